"""Specification of the tag taxonomy and of the parser of user-typed tag lists."""

from __future__ import annotations

import re
import time
import typing

import pytest

from content import taxonomy
from content.taxonomy import (
    FAMILIES,
    FAMILY_NAMES_RU,
    MAX_TOKEN_CHARS,
    MAX_TOKENS,
    TAG_IDS,
    TAGS,
    TAXONOMY_VERSION,
    Family,
    Tag,
    TagResolution,
    UnknownTag,
    get_tag,
    hashtag,
    popular_tags,
    resolve_tags,
    tags_by_family,
)

HFDAY_TAGS = (
    "dataset",
    "data",
    "benchmark",
    "agents",
    "cv",
    "rl",
    "rlhf",
    "rag",
    "plp",
    "inference",
    "3d",
    "audio",
    "video",
    "multimodal",
    "math",
    "multilingual",
    "architecture",
    "healthcare",
    "training",
    "robotics",
    "agi",
    "games",
    "interpretability",
    "reasoning",
    "transfer_learning",
    "graphs",
    "ethics",
    "security",
    "optimization",
    "survey",
    "diffusion",
    "alignment",
    "story_generation",
    "hallucinations",
    "long_context",
    "synthetic",
    "machine_translation",
    "leakage",
    "open_source",
    "small_models",
    "science",
    "low_resource",
)
FINER_TAGS = ["mllm", "llm", "moe", "vqa", "vla", "nlp", "speech", "code", "ocr"]

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def tag(tag_id: str) -> Tag:
    found = get_tag(tag_id)
    assert found is not None, tag_id
    return found


def ids(text: str) -> tuple[str, ...]:
    return resolve_tags(text).tags


# ---- the tag list ---------------------------------------------------------------------------


def test_the_taxonomy_is_versioned() -> None:
    assert TAXONOMY_VERSION == 1


def test_there_are_exactly_51_unique_ids_usable_as_hashtags_and_callback_data() -> None:
    all_ids = [t.id for t in TAGS]
    assert len(all_ids) == 51
    assert len(set(all_ids)) == 51
    assert frozenset(all_ids) == TAG_IDS
    for tag_id in all_ids:
        assert re.fullmatch(r"[a-z0-9_]{1,24}", tag_id), tag_id


def test_all_42_hfday_tags_and_the_9_finer_tags_are_present() -> None:
    assert len(set(HFDAY_TAGS)) == 42
    assert set(HFDAY_TAGS) | set(FINER_TAGS) == TAG_IDS


def test_every_tag_has_a_short_russian_name_and_a_one_line_russian_description() -> None:
    for t in TAGS:
        assert CYRILLIC.search(t.name_ru), t.id
        assert CYRILLIC.search(t.description_ru), t.id
        assert len(t.name_ru) <= 40, t.id
        assert 0 < len(t.description_ru) <= 120, t.id
        assert "\n" not in t.name_ru + t.description_ru, t.id
        assert t.name_ru == t.name_ru.strip() and t.description_ru == t.description_ru.strip()
        assert not t.description_ru.endswith("."), t.id


def test_every_tag_belongs_to_a_known_family_with_a_russian_name() -> None:
    assert set(FAMILIES) == set(typing.get_args(Family))
    assert set(FAMILY_NAMES_RU) == set(FAMILIES)
    for name in FAMILY_NAMES_RU.values():
        assert CYRILLIC.search(name)
    for t in TAGS:
        assert t.family in FAMILIES, t.id


def test_tags_by_family_lists_every_tag_once_in_display_order() -> None:
    grouped = tags_by_family()
    assert list(grouped) == list(FAMILIES)
    assert all(grouped[family] for family in FAMILIES)
    flat = [t for family in FAMILIES for t in grouped[family]]
    assert sorted(t.id for t in flat) == sorted(TAG_IDS)
    for family, members in grouped.items():
        assert all(t.family == family for t in members)
        assert list(members) == [t for t in TAGS if t.family == family]


def test_about_eight_popular_tags_come_first_then_the_rest_grouped_by_family() -> None:
    popular = popular_tags()
    assert [t.id for t in popular] == [
        "mllm",
        "llm",
        "agents",
        "reasoning",
        "rl",
        "cv",
        "benchmark",
        "moe",
    ]
    assert TAGS[: len(popular)] == popular
    rest = TAGS[len(popular) :]
    assert not any(t.popular for t in rest)
    family_positions = [FAMILIES.index(t.family) for t in rest]
    assert family_positions == sorted(family_positions)


def test_get_tag_finds_tags_by_exact_id_only() -> None:
    assert tag("mllm").name_ru == "Мультимодальные LLM"
    assert get_tag("MLLM") is None
    assert get_tag("nope") is None
    assert get_tag("") is None


def test_hashtag_renders_a_telegram_hashtag() -> None:
    assert hashtag("mllm") == "#mllm"
    assert hashtag("story_generation") == "#story_generation"


def test_tags_are_immutable() -> None:
    with pytest.raises(AttributeError):
        tag("llm").popular = False  # type: ignore[misc]


# ---- aliases --------------------------------------------------------------------------------


def test_aliases_are_stored_lowercase_with_spaces_and_without_yo() -> None:
    for t in TAGS:
        for alias in t.aliases:
            assert alias == alias.strip().lower(), (t.id, alias)
            assert "ё" not in alias, (t.id, alias)
            assert "-" not in alias and "_" not in alias and "  " not in alias, (t.id, alias)
            assert alias != t.id.replace("_", " "), (t.id, alias)


def test_aliases_are_unambiguous_and_never_another_tags_id() -> None:
    owners: dict[str, set[str]] = {}
    for t in TAGS:
        for word in (t.id, *t.aliases):
            key = word.replace("_", " ")
            for form in {key, key.replace(" ", "")}:
                owners.setdefault(form, set()).add(t.id)
    ambiguous = {form: who for form, who in owners.items() if len(who) > 1}
    assert ambiguous == {}
    for t in TAGS:
        for alias in t.aliases:
            assert alias.replace(" ", "_") not in TAG_IDS - {t.id}, (t.id, alias)


def test_every_id_and_alias_resolves_to_its_tag() -> None:
    for t in TAGS:
        assert ids(t.id) == (t.id,)
        assert ids(hashtag(t.id)) == (t.id,)
        assert ids(t.id.upper()) == (t.id,)
        for alias in t.aliases:
            assert ids(alias) == (t.id,), alias
            assert ids(alias.replace(" ", "-")) == (t.id,), alias
            assert ids(alias.upper()) == (t.id,), alias


# ---- resolving what users type --------------------------------------------------------------


def test_a_user_can_write_tags_in_any_case_and_with_hash() -> None:
    message = "/subscribe mllm #MoE Benchmark"
    args = message.removeprefix("/subscribe")
    assert resolve_tags(args) == TagResolution(tags=("mllm", "moe", "benchmark"), unknown=())
    assert ids("##LLM ###rl") == ("llm", "rl")


def test_tags_can_be_separated_by_commas_semicolons_and_newlines() -> None:
    assert ids("mllm,moe;benchmark\ncv\tagents, , ;") == (
        "mllm",
        "moe",
        "benchmark",
        "cv",
        "agents",
    )


def test_surrounding_punctuation_and_quotes_are_ignored() -> None:
    assert ids("\"mllm\", «moe», (rag)! 'cv' `rl`. agents?") == (
        "mllm",
        "moe",
        "rag",
        "cv",
        "rl",
        "agents",
    )


def test_result_is_deduplicated_and_keeps_input_order() -> None:
    assert ids("moe llm MoE #llm mixture-of-experts mllm LLM") == ("moe", "llm", "mllm")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mixture of experts", ("moe",)),
        ("Mixture-of-Experts", ("moe",)),
        ("mixture_of_experts", ("moe",)),
        ("mixtureofexperts", ("moe",)),
        ("смесь экспертов", ("moe",)),
        ("смесь-экспертов", ("moe",)),
        ("large language models", ("llm",)),
        ("vision-language models", ("mllm",)),
        ("vision language action model", ("vla",)),
        ("retrieval augmented generation", ("rag",)),
        ("reinforcement learning from human feedback", ("rlhf",)),
        ("long context", ("long_context",)),
        ("long-context", ("long_context",)),
        ("Story Generation", ("story_generation",)),
        ("cv mixture of experts llm", ("cv", "moe", "llm")),
        ("rag, mixture of experts; large language models", ("rag", "moe", "llm")),
    ],
)
def test_multi_word_aliases_match_with_spaces_hyphens_or_underscores(
    text: str, expected: tuple[str, ...]
) -> None:
    assert resolve_tags(text) == TagResolution(tags=expected, unknown=())


def test_a_multi_word_alias_wins_over_its_words() -> None:
    assert ids("synthetic data") == ("synthetic",)
    assert ids("multimodal llm") == ("mllm",)
    assert ids("data, synthetic") == ("data", "synthetic")


def test_words_are_not_joined_across_commas() -> None:
    assert resolve_tags("mixture, of experts").tags == ()


def test_glued_tags_are_split() -> None:
    assert ids("llm-agents") == ("llm", "agents")
    assert ids("rl_rlhf") == ("rl", "rlhf")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ллм", ("llm",)),
        ("ЛЛМ", ("llm",)),
        ("языковые", ("llm",)),
        ("мультимодальные", ("mllm",)),
        ("Мультимодальные LLM", ("mllm",)),
        ("мллм", ("mllm",)),
        ("зрение", ("cv",)),
        ("агенты", ("agents",)),
        ("обучение с подкреплением", ("rl",)),
        ("рассуждения", ("reasoning",)),
        ("бенчмарки", ("benchmark",)),
        ("диффузия", ("diffusion",)),
        ("трёхмерные", ("3d",)),
        ("Воплощённый ИИ", ("robotics",)),
        ("галлюцинации", ("hallucinations",)),
        ("ллм, агенты и рассуждения", ("llm", "agents", "reasoning")),
    ],
)
def test_russian_aliases_work_with_yo_folded(text: str, expected: tuple[str, ...]) -> None:
    assert resolve_tags(text) == TagResolution(tags=expected, unknown=())


def test_connector_and_filler_words_are_skipped_silently() -> None:
    assert resolve_tags("rl and agents или cv, reasoning models") == TagResolution(
        tags=("rl", "agents", "cv", "reasoning"), unknown=()
    )


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("mlm", "mllm"),
        ("benchmarks", "benchmark"),
        ("agent", "agents"),
        ("robotic", "robotics"),
        ("difusion", "diffusion"),
        ("reasonin", "reasoning"),
        ("bechmark", "benchmark"),
        ("optimisation", "optimization"),
        ("multimodel", "multimodal"),
        ("рассуждени", "reasoning"),
        ("#Agent", "agents"),
    ],
)
def test_unknown_tag_gets_a_did_you_mean_suggestion(typo: str, suggestion: str) -> None:
    result = resolve_tags(typo)
    assert result.tags == ()
    assert result.unknown == (UnknownTag(raw=typo.lstrip("#"), suggestion=suggestion),)


@pytest.mark.parametrize("garbage", ["drop table", "hello world", "xyzzy", "ai", "ml", "qwerty"])
def test_garbage_gets_no_suggestion(garbage: str) -> None:
    result = resolve_tags(garbage)
    assert result.tags == ()
    assert result.unknown
    assert all(u.suggestion is None for u in result.unknown)


def test_known_and_unknown_tags_are_reported_together() -> None:
    assert resolve_tags("mllm mlm foo MLM") == TagResolution(
        tags=("mllm",),
        unknown=(UnknownTag("mlm", "mllm"), UnknownTag("foo", None)),
    )


def test_an_overlong_token_is_unknown_truncated_and_not_guessed() -> None:
    word = "benchmark" * 10
    result = resolve_tags(f"{word} rl")
    assert result.tags == ("rl",)
    assert result.unknown == (UnknownTag(raw=word[:MAX_TOKEN_CHARS] + "…", suggestion=None),)


def test_only_the_first_60_tokens_are_considered() -> None:
    assert MAX_TOKENS == 60
    assert ids("x " * 59 + "rl cv") == ("rl",)
    assert len(resolve_tags(" ".join(f"w{i}" for i in range(500))).unknown) == MAX_TOKENS


HOSTILE_INPUTS = [
    "",
    "   ",
    "\n\t\r ",
    ",;,;,,",
    "#",
    "####",
    "a" * 5000,
    "mllm " * 1000,
    "<b>mllm</b> <i>moe</i>",
    "<script>alert('x')</script>",
    "'; DROP TABLE chats;--",
    "1 OR 1=1; DELETE FROM subscriptions",
    "🔥🤖🚀 👍🏽👨‍👩‍👧",
    "مرحبا بالعالم الذكاء الاصطناعي",
    "\u202eevil\u202c \u200fmllm\u200f",
    "\x00\x01\x02 rl \x7f",
    "ml\x00lm",
    "\ud800 lone surrogate",
    "Ｍｌｌｍ　ｍｏｅ",
    "%s %d {0} {tags} $(rm -rf /) `id`",
    "../../etc/passwd",
    "\\x00\\n\\u0000",
    "-" * 3000 + " cv",
    "a-" * 2000,
    "mixture " * 200 + "of experts",
    "Z̷̛͓̈a̸̧͝l̵̰̈́g̷͚͌o̶̧͛ text",
]


@pytest.mark.parametrize("text", HOSTILE_INPUTS)
def test_hostile_input_never_raises_and_gives_a_sane_result(text: str) -> None:
    started = time.perf_counter()
    result = taxonomy._resolve(text)  # the unguarded core: it must not raise either
    assert time.perf_counter() - started < 1.0
    assert resolve_tags(text) == result
    assert set(result.tags) <= TAG_IDS
    assert len(result.tags) == len(set(result.tags))
    assert len(result.unknown) <= MAX_TOKENS
    for unknown in result.unknown:
        assert 0 < len(unknown.raw) <= MAX_TOKEN_CHARS + 1
        assert unknown.raw.isprintable()
        assert unknown.suggestion is None or unknown.suggestion in TAG_IDS


def test_hostile_inputs_with_tags_inside_still_find_them() -> None:
    assert ids("<b>mllm</b> <i>moe</i>") == ("mllm", "moe")
    assert ids("\u202eevil\u202c \u200fmllm\u200f") == ("mllm",)
    assert ids("\x00\x01\x02 rl \x7f") == ("rl",)
    assert ids("Ｍｌｌｍ　ｍｏｅ") == ("mllm", "moe")
    assert ids("🔥mllm🔥") == ("mllm",)


@pytest.mark.parametrize("text", ["", "   ", "\n", ",", "#", "🙂", "\x00"])
def test_empty_input_gives_an_empty_result(text: str) -> None:
    assert resolve_tags(text) == TagResolution(tags=(), unknown=())


def test_non_string_input_gives_an_empty_result() -> None:
    assert resolve_tags(None) == TagResolution(tags=(), unknown=())  # type: ignore[arg-type]


# ---- patterns over paper titles and abstracts -----------------------------------------------

# At least one positive sentence for every tag: each must reach the tag's min_hits.
POSITIVE = {
    "mllm": "Multimodal large language models (MLLMs) can answer questions about images.",
    "llm": "Large language models (LLMs) are strong. We fine-tune an LLM and compare 5 LLMs.",
    "agents": "We build an agentic system of LLM-based agents with tool use.",
    "reasoning": "Chain-of-thought (CoT) prompting improves the reasoning ability of models.",
    "rl": "We train the policy with reinforcement learning (RL) using GRPO.",
    "cv": "We study semantic segmentation and object detection in computer vision.",
    "benchmark": "We introduce MMBench, a comprehensive benchmark for evaluating models.",
    "moe": "Sparse Mixture of Experts~(MoE) layers route tokens to experts.",
    "small_models": "Small language models (SLMs) run on-device on mobile phones.",
    "architecture": "We propose a novel architecture combining state space models and linear "
    "attention.",
    "diffusion": "Latent diffusion models are trained with classifier-free guidance.",
    "multimodal": "A multimodal model handles vision-language and audio-visual inputs.",
    "video": "Text-to-video generation produces long videos with temporal consistency.",
    "audio": "We present a music generation model with a neural audio codec.",
    "speech": "Automatic speech recognition and text-to-speech for spoken dialogue.",
    "3d": "3D Gaussian Splatting enables novel view synthesis of 3D scenes.",
    "ocr": "An OCR-free model for document understanding.",
    "vqa": "We evaluate on visual question answering benchmarks such as VQAv2 and TextVQA.",
    "code": "Code generation agents solve GitHub issues in SWE-bench.",
    "plp": "Code LLMs trained on many programming languages excel at program synthesis.",
    "math": "We improve mathematical reasoning on GSM8K and MATH-500.",
    "rag": "Retrieval-augmented generation (RAG) grounds answers in retrieved documents.",
    "robotics": "Robot manipulation policies learned in simulation transfer sim-to-real.",
    "vla": "OpenVLA is an open vision-language-action model.",
    "healthcare": "Clinical notes of patients help medical diagnosis.",
    "science": "LLMs accelerate scientific discovery in chemistry and materials science.",
    "games": "An agent plays Minecraft and other open-world games.",
    "story_generation": "We study long-form story generation and creative writing.",
    "nlp": "Named entity recognition (NER) and sentiment analysis on reviews.",
    "multilingual": "A multilingual model covering 100 languages with cross-lingual transfer.",
    "machine_translation": "Neural machine translation (NMT) quality on WMT23.",
    "low_resource": "Translation for low-resource languages such as Yoruba.",
    "graphs": "Graph neural networks (GNNs) for node classification on knowledge graphs.",
    "training": "A pre-training recipe and scaling laws for supervised fine-tuning (SFT).",
    "rlhf": "Reinforcement learning from human feedback (RLHF) and DPO with a reward model.",
    "alignment": "AI alignment: training models aligned with human values.",
    "optimization": "The Muon optimizer beats AdamW at a 2x lower learning rate sensitivity.",
    "inference": "Speculative decoding and KV cache quantization reduce inference latency.",
    "long_context": "We extend the context window to 128K tokens for long-context tasks.",
    "transfer_learning": "Knowledge distillation (KD) from a teacher model to a student model.",
    "data": "Data curation and quality filtering of web data with deduplication.",
    "dataset": "We release a new large-scale dataset of 1M annotated images.",
    "synthetic": "We train on synthetic data: synthetic instructions generated by GPT-4.",
    "survey": "A Survey on Agents: we propose a taxonomy and discuss future directions.",
    "open_source": "Code and models are publicly available at https://github.com/x/y.",
    "interpretability": "Sparse autoencoders (SAEs) enable mechanistic interpretability.",
    "hallucinations": "Hallucination detection: LLMs hallucinate facts; we improve factuality.",
    "security": "Jailbreak attacks and prompt injection reach a high attack success rate.",
    "ethics": "We measure gender bias and fairness, and discuss ethical issues.",
    "leakage": "Benchmark contamination: test data leaked into pre-training corpora; data "
    "contamination inflates scores.",
    "agi": "Artificial general intelligence (AGI): levels of AGI and risks of AGI.",
}

NEGATIVE = [
    ("mllm", "We scale a large language model to 70B parameters."),
    ("mllm", "Vision transformers for image classification."),
    ("llm", "Multimodal large language models (MLLMs) see images. MLLMs are better. Two MLLMs."),
    ("llm", "Video-LLMs and V-LLMs understand videos; multimodal LLMs too."),
    ("llm", "Inspired by large language models (LLMs), we train a vision transformer."),
    ("moe", "We combine a mixture of methods with experts' annotations."),
    ("moe", "Mixture density networks and Gaussian mixtures."),
    ("rl", "Our RLHF-free method is trained with supervised learning."),
    ("reasoning", "The model is evaluated on reasoning benchmarks."),
    ("benchmark", "Our method outperforms prior work on several standard benchmarks."),
    ("benchmark", "We propose a new method and achieve state of the art on the benchmark."),
    ("agents", "A multi-agent reinforcement learning setting with RL agents."),
    ("cv", "We evaluate our optimizer on image classification."),
    ("diffusion", "We use diffusion MRI to study information diffusion in networks."),
    ("machine_translation", "We evaluate our chat model on MT-Bench and MT-Bench-101."),
    ("open_source", "We compare open-source models with proprietary ones; open-weight models lag."),
    ("open_source", "When labeled data is available we use publicly available datasets."),
    ("dataset", "We propose a method and evaluate it on the COCO dataset."),
    ("dataset", "We propose an efficient dataset distillation method."),
    ("agi", "Towards artificial general intelligence (AGI), we propose a new optimizer."),
    ("speech", "Test-time scaling (TTS) and attack success rate (ASR) of jailbreaks."),
    ("games", "A game-theoretic analysis of zero-sum games."),
    ("plp", "The source code is available online."),
    ("low_resource", "Training on low-resource devices with limited memory."),
    ("small_models", "We distill into small models."),
    ("3d", "We render a 3D plot."),
    ("robotics", "Image manipulation detection."),
    ("leakage", "To avoid data contamination, we build a fresh benchmark."),
    ("security", "We study safety."),
    ("hallucinations", "Our method also reduces hallucinations."),
    ("nlp", "Large language models have revolutionized natural language processing (NLP)."),
]


def test_every_tag_has_a_positive_example_in_this_spec() -> None:
    assert set(POSITIVE) == TAG_IDS


@pytest.mark.parametrize(("tag_id", "text"), sorted(POSITIVE.items()))
def test_pattern_recognises_a_typical_sentence(tag_id: str, text: str) -> None:
    assert tag(tag_id).matches(text), (tag_id, tag(tag_id).hits(text))


@pytest.mark.parametrize(("tag_id", "text"), NEGATIVE)
def test_pattern_does_not_fire_on_a_lookalike(tag_id: str, text: str) -> None:
    assert not tag(tag_id).matches(text), (tag_id, tag(tag_id).hits(text))


def test_llm_acronym_does_not_match_inside_mllm() -> None:
    acronym = [p for p in tag("llm").patterns if "LLM" in p.pattern and "large" not in p.pattern]
    assert acronym
    assert all(p.search("MLLMs and MLLM") is None for p in acronym)
    assert all(p.search("an LLM-based agent") is not None for p in acronym)


def test_patterns_tolerate_hyphens_newlines_and_latex_tildes() -> None:
    assert tag("moe").hits("Mixture-of-Experts") == 1
    assert tag("moe").hits("mixture of\nexperts") == 1
    assert tag("moe").hits("Mixture of Experts~(MoE)") == 2
    assert tag("training").hits("finetuning, fine-tuning and fine tuning") == 0
    assert tag("training").hits("supervised finetuning; supervised fine-tuning") == 2


def test_case_sensitive_acronyms_do_not_match_ordinary_words() -> None:
    assert tag("rag").hits("a rag doll") == 0
    assert tag("rag").hits("RAG pipelines") == 1
    assert tag("moe").hits("moe is a word") == 0


def test_hits_count_distinct_positions_and_min_hits_is_respected() -> None:
    llm = tag("llm")
    assert llm.min_hits == 3
    assert llm.hits("LLM LLM") == 2
    assert not llm.matches("LLM LLM")
    assert llm.matches("LLM LLM LLM")


def test_mentions_are_the_matched_text_with_overlapping_matches_merged() -> None:
    # "multimodal GPT-4V" is matched by two patterns of #mllm; it is one mention.
    text = "a multimodal GPT-4V and GPT-4V"
    assert tag("mllm").mentions(text) == ["multimodal GPT-4V", "GPT-4V"]
    assert tag("mllm").hits(text) == 2
    assert tag("moe").mentions("Mixture of Experts~(MoE)") == ["Mixture of Experts", "MoE"]


def test_every_tag_has_case_insensitive_patterns_and_a_positive_min_hits() -> None:
    for t in TAGS:
        assert t.patterns, t.id
        assert t.min_hits >= 1, t.id
        for pattern in t.patterns:
            assert pattern.flags & re.IGNORECASE, (t.id, pattern.pattern)


def test_patterns_do_not_match_an_empty_or_unrelated_text() -> None:
    unrelated = "The weather in Paris was pleasant, and we had coffee near the river."
    for t in TAGS:
        assert t.hits("") == 0, t.id
        assert not t.matches(unrelated), t.id


def test_patterns_scale_linearly_on_a_long_adversarial_abstract() -> None:
    text = ("large multimodal mixture of the new make code and - ~ " * 400)[:20000]
    started = time.perf_counter()
    for t in TAGS:
        t.hits(text)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("tag_id", "text"),
    [
        ("games", "We study reward gaming and specification gaming in RLHF; metric gaming too."),
        ("inference", "A VQ-VAE with vector quantization; residual vector quantization of audio."),
        ("science", "Physics-aware video generation with physics-based motion and physics priors."),
        ("survey", "We conduct a survey of 300 developers; our survey respondents use LLMs."),
        ("robotics", "Models grasp the meaning of prompts; grasping the nuance is hard."),
        ("alignment", "Helpfulness and misaligned image-text pairs in cross-modal alignment."),
        ("agents", "The model is strong on agentic tasks."),
        ("reasoning", "Strong reasoning capabilities."),
        ("optimization", "It reduces computational cost and memory overhead at inference."),
    ],
)
def test_pattern_ignores_a_passing_or_unrelated_use_of_a_word(tag_id: str, text: str) -> None:
    assert not tag(tag_id).matches(text), (tag_id, tag(tag_id).hits(text))


def test_a_survey_title_and_its_abstract_are_recognised() -> None:
    text = (
        "Retrieval-Augmented Generation for Large Language Models: A Survey. "
        "This comprehensive review paper offers a detailed examination of RAG paradigms."
    )
    assert tag("survey").matches(text)
    assert tag("rag").matches(text)
