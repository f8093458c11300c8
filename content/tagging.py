"""Tags for a paper: taxonomy rules over its text, HF keywords and an LLM's choice, combined.

Precision comes first: a reader should never find a tag wrong, so a missed tag is the lesser
evil.  Evidence is weighed per tag:

1. **Text rules.**  The tag's patterns (content/taxonomy.py) are counted over the English title
   and abstract; the tag is given when the hits reach its ``min_hits``.  A hit in the *title*
   alone suffices, because a title names what the paper is about, except for ``agi``: titles use
   "AGI" as a slogan ("... Benchmark for Expert AGI").
2. **HF ``ai_keywords``.**  A keyword that *is* a tag (its id, an alias, or a phrase the tag's
   patterns match whole, e.g. "Mixture of Experts", "Vision-Language Models", "Large Multimodal
   Models", "3D Gaussian Splatting") is strong evidence and gives a *specific* tag on its own.
   Aliases too vague as a whole keyword ("evaluation", "transformer", "bias") do not count.  A
   keyword that merely contains a pattern hit ("AIME 2024 problems") is one extra hit.  Keywords
   are extracted from the abstract, so together they never add more than one hit per tag (no
   double counting).
3. **The LLM's choice** (``llm_tags``), filtered to the taxonomy's ids, comes in two forms.

   *With quotes* (a mapping tag id → a short quote from the title or abstract that shows it),
   it is the main signal for every tag, broad ones included.  The tag is given when the quote
   really is in the paper (:func:`find_quote`: case, punctuation, quotes and dashes ignored; a
   few extra words in the paper's passage and one quote word in eight missing are tolerated,
   a paraphrase or an invention is not) *and* the passage shows the tag: one of the tag's
   patterns or looser cues (:data:`QUOTE_CUES`) matches it, or, for a specific tag, the paper
   mentions the tag somewhere.  So #benchmark quoted as "a new benchmark designed to evaluate"
   is given, and #benchmark quoted as "on popular benchmarks" is not.

   *Without quotes* (an iterable of ids) it is weaker evidence: trusted on its own for
   specific, topical tags, which an LLM judges well from an abstract; worth one extra hit for
   the :data:`BROAD_TAGS` it is known to over-assign (an hfday.ru-style LLM put #benchmark and
   #optimization on a paper that merely reports benchmark scores and speeds up training).
4. **Outside evidence only tops up** a broad tag: keywords and unquoted LLM votes count as
   hits but need at least one hit of the tag's own patterns in the text: they may break a tie,
   never create a tag from nothing.  ``agi`` comes from the text rules only.

Then the hierarchy a reader expects is applied (:data:`IMPLIED`):

- ``mllm`` ⇒ ``multimodal`` and ``vqa`` ⇒ ``multimodal``: both are multimodal by definition;
- ``vla`` ⇒ ``robotics`` and ``multimodal``: a vision-language-action model is a robot policy
  driven by images and words;
- ``moe`` does **not** imply ``architecture``: many MoE papers are about serving, routing load or
  upcycling rather than a new network design, so ``architecture`` needs evidence of its own.

And one subsumption: an ``mllm`` paper's talk of "the LLM" is about the MLLM's language backbone,
so ``llm`` is dropped from an ``mllm`` paper unless its title names LLMs on their own.

Pure domain code: no I/O, nothing done at import time beyond building constant tables.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from content.models import Paper
from content.taxonomy import TAG_IDS, TAGS, Tag

BROAD_TAGS: Final[frozenset[str]] = frozenset(
    {
        # Nearly every paper uses an LLM, reasons, trains, evaluates or optimizes something.
        "llm",
        "reasoning",
        "training",
        "optimization",
        "architecture",
        "inference",
        "transfer_learning",
        "small_models",
        "multimodal",
        # Claims about the paper itself that only its text can establish.
        "benchmark",
        "dataset",
        "data",
        "synthetic",
        "open_source",
        "survey",
        # Words with a second, everyday meaning in ML papers ("feature alignment",
        # "interpretable results", "reduces hallucinations" in passing).
        "alignment",
        "interpretability",
        "hallucinations",
    }
)
"""Tags that keywords and the LLM may only top up: they need a text hit of their own."""

RULES_ONLY_TAGS: Final[frozenset[str]] = frozenset({"agi"})
"""Tags given by text rules only; no title shortcut, keyword or LLM vote counts."""

IMPLIED: Final[Mapping[str, tuple[str, ...]]] = {
    "mllm": ("multimodal",),
    "vqa": ("multimodal",),
    "vla": ("robotics", "multimodal"),
}
"""Tag ⇒ tags it implies (see the module docstring for why moe ⇏ architecture)."""


def _cue(source: str) -> re.Pattern[str]:
    """Compile a quote cue like the taxonomy's patterns: case-insensitive, " " = separators."""
    return re.compile(source.replace(" ?", r"[\s~-]*").replace(" ", r"[\s~-]+"), re.IGNORECASE)


_MODALITY: Final[str] = r"(?:images?|videos?|audio|speech|text|vision)"

# What a quote may say, besides the tag's own patterns, to show its tag.  Each cue names
# the *topic* in looser words than the patterns, which are tuned for whole abstracts; words a
# paper uses in passing ("on popular benchmarks", "preference optimization", "safety
# training") are left out on purpose.
QUOTE_CUES: Final[Mapping[str, tuple[re.Pattern[str], ...]]] = {
    tag_id: tuple(_cue(source) for source in sources)
    for tag_id, sources in {
        "llm": (
            r"\blanguage models?\b",
            r"(?-i:\bLMs?\b)",
            r"\b(?:GPT(?: ?\d\w*)?|ChatGPT|LLaMA|Llama|Mistral|Mixtral|Qwen|Claude|PaLM|Gemma)\b",
        ),
        "reasoning": (
            r"\b(?:complex|deliberate|compositional|automated|abstract|causal|symbolic|"
            r"arithmetic|graph|multi ?step|step by step) reasoning\b",
        ),
        "training": (
            r"\b(?:training|fine ?tuning|pre ?training) (?:approach|method|recipe|stages?|"
            r"strateg(?:y|ies)|procedure|pipeline)\b",
            r"\bstages? (?:for|of) (?:\w+ )?training\b",
            r"\bmulti ?stage training\b",
        ),
        "optimization": (
            r"\boptimi[sz]ation (?:algorithms?|methods?)\b",
            r"\b(?:memory|compute|computation(?:al)?) (?:savings?|usage|footprint)\b",
            r"\bparallelism\b",
        ),
        "architecture": (r"\barchitectures?\b", r"\bbackbones?\b"),
        "inference": (
            r"\b(?:inference|latency|serving|throughput|decoding)\b",
            r"\bquanti[sz]\w*",
            r"\bcach(?:e|es|ed|ing)\b",
        ),
        "transfer_learning": (r"\btransfer\w* (?:\w+ ){0,2}knowledge\b",),
        "small_models": (
            r"\b(?:small|smaller|compact|tiny)\b",
            r"\bsub ?billion\b",
            r"\bfewer than a billion\b",
            r"\b(?:phones?|mobile)\b",
        ),
        "multimodal": (
            r"\blanguage (?:image|vision|visual|video|audio)\b",
            # "image, video, and speech": several modalities named together.
            rf"\b{_MODALITY}(?:, {_MODALITY})*,? (?:and|or) {_MODALITY}\b",
        ),
        "benchmark": (
            r"\bevaluation (?:benchmark|framework|method|suite|platform|toolkit|protocol)s?\b",
            r"\bplatform for evaluating\b",
            r"\bbenchmark (?:construction|of|for|designed|consisting|comprising)\b",
            r"\b(?:new|first|novel|two|three) (?:\w+ ){0,3}benchmarks?\b",
        ),
        "dataset": (
            r"\bdatasets?\b",
            r"\bcorp(?:us|ora)\b",
            r"\bwe (?:also )?(?:build|release|create|curate|collect)\b",
        ),
        "data": (
            r"\b(?:curat\w*|filter\w*|deduplicat\w*|clean\w*|selection|quality|audit\w*|balanc\w*"
            r"|mix(?:ture|ing)s?)\b",
        ),
        "synthetic": (r"\bsynthe\w+", r"\bgenerat\w*(?: \S+){0,6} data\b"),
        "open_source": (
            r"\bopen ?sourc\w*",
            r"\bpublicly\b",
            r"\b(?:release|released|releasing)\b",
            r"\bopen (?:weights?|models?|access)\b",
            r"\bfully open\b",
        ),
        # Specific tags: the topic's own nouns.
        "mllm": (r"\bvis(?:ion|ual) language\b", r"\bmulti ?modal (?:\w+ )?models?\b"),
        "cv": (
            r"\b(?:segmentation|object detection|localization|visual perception|"
            r"view synthesis|image synthesis|visual transformer)\b",
        ),
        "video": (r"\bvideos?\b", r"\banimat(?:ion|ions|ed|e|ing)\b"),
        "story_generation": (r"\bstor(?:y|ies)\b", r"\bnarratives?\b", r"\bfiction\b"),
        "multilingual": (r"\b\d[\d,]* (?:\w+ )?languages?\b",),
        "ocr": (r"\b(?:text|document) reading\b", r"\bread\w* (?:the )?text\b"),
        "security": (r"\bpriva(?:cy|te)\b", r"\battacks?\b"),
        "speech": (r"\bspeech\b", r"\bspoken\b"),
        "code": (r"\b(?:code|programming|software)\b",),
        "nlp": (r"(?-i:\bNLP\b)", r"\bnatural language processing\b", r"\bsummari[sz]ation\b"),
        "ethics": (r"\b(?:bias\w*|discriminat\w*|stereotyp\w*|demographic|fairness)\b",),
        "low_resource": (r"\blower? ?resource[sd]?\b",),
        "agents": (
            r"\bagents?\b",
            r"\b(?:use|uses|using|call|calls|calling|invok\w+) (?:\w+ ){0,2}(?:tools?|APIs?)\b",
        ),
        "long_context": (
            r"\bcontext (?:sizes?|windows?|lengths?)\b",
            r"\bsequence lengths?\b",
            r"\b\d+ ?[kKmM] tokens\b",
        ),
        "alignment": (
            r"\balign\w*(?: \S+){0,4} (?:to|with) (?:the )?(?:human|preferences?|values|"
            r"opinions|those|users?)\b",
            r"\baligning (?:\w+ ){0,2}models?\b",
            r"\bsafety (?:improvements?|alignment)\b",
            r"\bfrom human (?:preferences|feedback)\b",
            r"\bscalable oversight\b",
        ),
        "interpretability": (r"\btransparency\b", r"\bneurons?\b"),
    }.items()
}
"""Per tag: looser cues that a quote may show it by (see :func:`_quote_shows`)."""

# Aliases that users may type as a tag but that, as a whole HF keyword, mean too little:
# "evaluation" is in every paper, "transformer" does not make an architecture paper, "bias" may
# be inductive bias, "game" game theory, "graph" a computation graph.
_WEAK_KEYWORD_ALIASES: Final[frozenset[str]] = frozenset(
    {
        "evaluation",
        "evals",
        "attention",
        "transformer",
        "transformers",
        "bias",
        "biases",
        "corpus",
        "datasets",
        "review",
        "safety",
        "game",
        "graph",
        "vision",
        "images",
        "retrieval",
        "translation",
        "mt",
        "physics",
        "interpretable",
        "language models",
    }
)

LlmTags: TypeAlias = Iterable[str] | Mapping[str, str]
"""The LLM's choice: taxonomy ids, or taxonomy id → the quote from the paper that shows it."""

_KEY_SEP_RE: Final[re.Pattern[str]] = re.compile(r"[\s\-_~]+")
_MAX_KEYWORDS: Final[int] = 64
_MAX_KEYWORD_CHARS: Final[int] = 120


def _key(text: str) -> str:
    """Fold a keyword or alias for comparison: casefold, separators → one space."""
    return _KEY_SEP_RE.sub(" ", text.casefold()).strip()


def _build_alias_index() -> dict[str, str]:
    """Map folded tag ids and aliases (minus weak ones) to tag ids; the first tag wins."""
    index: dict[str, str] = {}
    for tag in TAGS:
        for word in (tag.id, *tag.aliases):
            key = _key(word)
            if key and key not in _WEAK_KEYWORD_ALIASES:
                index.setdefault(key, tag.id)
    return index


_ALIAS_INDEX: Final[dict[str, str]] = _build_alias_index()
_ORDER: Final[dict[str, int]] = {tag.id: index for index, tag in enumerate(TAGS)}


def _keyword_tags(keyword: str) -> tuple[dict[str, str], dict[str, str]]:
    """Classify one HF keyword: (strong tag → why, weak tag → why)."""
    strong: dict[str, str] = {}
    weak: dict[str, str] = {}
    key = _key(keyword)
    if not key:
        return strong, weak
    alias_hit = _ALIAS_INDEX.get(key)
    if alias_hit is None and len(key) > 3 and key.endswith("s"):
        alias_hit = _ALIAS_INDEX.get(key[:-1])  # "hallucinations" → alias "hallucination"
    if alias_hit is not None:
        strong[alias_hit] = f"keyword {keyword!r} names the tag"
    stripped = keyword.strip()
    for tag in TAGS:
        if tag.id in strong:
            continue
        matches = [match for pattern in tag.patterns for match in pattern.finditer(stripped)]
        if not matches:
            continue
        if _covers(stripped, [match.span() for match in matches]):
            # "3D Gaussian Splatting": "3D Gaussian" and "Gaussian Splatting" together.
            strong[tag.id] = f"keyword {keyword!r} is matched whole by the rules"
        else:
            weak[tag.id] = f"keyword {keyword!r} contains {matches[0].group(0)!r}"
    return strong, weak


def _covers(text: str, spans: list[tuple[int, int]]) -> bool:
    """Tell whether the spans together cover every letter and digit of text."""
    covered = [False] * len(text)
    for start, end in spans:
        covered[start:end] = [True] * (end - start)
    return all(covered[i] or not char.isalnum() for i, char in enumerate(text))


def _clean_keywords(keywords: Iterable[object]) -> list[str]:
    """Keep string keywords of sane length; HF data is untrusted input."""
    cleaned: list[str] = []
    for keyword in keywords:
        if isinstance(keyword, str) and 0 < len(keyword.strip()) <= _MAX_KEYWORD_CHARS:
            cleaned.append(keyword)
        if len(cleaned) >= _MAX_KEYWORDS:
            break
    return cleaned


def _tag_id(raw: object) -> str | None:
    """Read one of the LLM's choices as a taxonomy id ("#MoE" → "moe"), or None."""
    if not isinstance(raw, str):
        return None
    tag_id = raw.strip().lstrip("#").strip().casefold()
    return tag_id if tag_id in TAG_IDS else None


def _clean_llm_tags(llm_tags: LlmTags) -> tuple[set[str], dict[str, str]]:
    """Split the LLM's choice into bare votes and quoted tags (id → quote); drop the rest."""
    if isinstance(llm_tags, Mapping):
        quoted: dict[str, str] = {}
        for raw, quote in llm_tags.items():
            tag_id = _tag_id(raw)
            if tag_id is not None and isinstance(quote, str) and quote.strip():
                quoted.setdefault(tag_id, quote)
        return set(), quoted
    return {tag_id for tag_id in map(_tag_id, llm_tags) if tag_id is not None}, {}


def _quote_shows(tag: Tag, quote: str, title: str, abstract: str, text_hits: int) -> str | None:
    """Return the passage the LLM quotes for a tag if it is in the paper and shows the tag.

    It shows the tag when one of the tag's patterns or :data:`QUOTE_CUES` matches it, or, for
    a specific tag, when the tag has a pattern hit anywhere in the title or abstract.
    """
    if tag.id in RULES_ONLY_TAGS:
        return None
    passage = find_quote(quote, title) or find_quote(quote, abstract)
    if passage is None:
        return None
    if tag.mentions(passage) or any(cue.search(passage) for cue in QUOTE_CUES.get(tag.id, ())):
        return passage
    # A specific tag may also rest on a mention elsewhere in the paper: the LLM judges those
    # well, and a verified quote shows it read this paper.
    if tag.id not in BROAD_TAGS and (text_hits or _cued(tag, title) or _cued(tag, abstract)):
        return passage
    return None


def _cued(tag: Tag, text: str) -> bool:
    """Tell whether one of the tag's quote cues matches text."""
    return any(cue.search(text) for cue in QUOTE_CUES.get(tag.id, ()))


def _quote(mentions: Sequence[str]) -> str:
    """Render matched mentions for explain(), at most a few of them."""
    shown = ", ".join(repr(m) for m in mentions[:4])
    return shown + (", …" if len(mentions) > 4 else "")


# A paper is tagged when it is fetched and again with the LLM's choice, every ingest run; the
# patterns are what costs, so each text is scanned once.
@functools.lru_cache(maxsize=4096)
def _text_mentions(title: str, abstract: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every tag's pattern mentions in a title and an abstract."""
    return {tag.id: (tuple(tag.mentions(title)), tuple(tag.mentions(abstract))) for tag in TAGS}


def _evidence(paper: Paper, llm_tags: LlmTags) -> dict[str, list[str]]:
    """Decide the tags of a paper and say why: tag id → reasons, in taxonomy display order."""
    title, abstract = paper.title or "", paper.abstract or ""
    keyword_strong: dict[str, str] = {}
    keyword_weak: dict[str, str] = {}
    for keyword in _clean_keywords(paper.ai_keywords):
        strong, weak = _keyword_tags(keyword)
        for tag_id, reason in strong.items():
            keyword_strong.setdefault(tag_id, reason)
        for tag_id, reason in weak.items():
            keyword_weak.setdefault(tag_id, reason)
    chosen, quoted = _clean_llm_tags(llm_tags)

    reasons: dict[str, list[str]] = {}
    title_llm = False
    mentions = _text_mentions(title, abstract)
    for tag in TAGS:
        in_title, in_abstract = mentions[tag.id]
        text_hits = len(in_title) + len(in_abstract)
        if tag.id == "llm":
            title_llm = bool(in_title)
        why: list[str] = []
        given = False
        if in_title and tag.id not in RULES_ONLY_TAGS:
            given = True
            why.append(f"title: {_quote(in_title)}")
        if text_hits >= tag.min_hits:
            given = True
            why.append(
                f"text: {text_hits} hits ≥ {tag.min_hits} ({_quote(in_title + in_abstract)})"
            )
        quote = quoted.get(tag.id)
        passage = None if quote is None else _quote_shows(tag, quote, title, abstract, text_hits)
        if passage is not None:
            given = True
            why.append(f"the LLM quotes {passage!r}")
        if tag.id not in RULES_ONLY_TAGS:
            made, outside = _outside_evidence(tag, text_hits, keyword_strong, keyword_weak, chosen)
            if made and not given and text_hits:
                why.append(
                    f"text: {text_hits} hit(s) < {tag.min_hits} "
                    f"({_quote(in_title + in_abstract)}), topped up by:"
                )
            given = given or made
            why.extend(outside)
        if given:
            reasons[tag.id] = why

    # An MLLM paper's "LLM" is its language backbone (see the module docstring).
    if "mllm" in reasons and "llm" in reasons and not title_llm:
        del reasons["llm"]

    for tag_id, implied in IMPLIED.items():
        if tag_id in reasons:
            for other in implied:
                reasons.setdefault(other, []).append(f"implied by {tag_id}")

    return {tag_id: reasons[tag_id] for tag_id in sorted(reasons, key=_ORDER.__getitem__)}


def _outside_evidence(
    tag: Tag,
    text_hits: int,
    keyword_strong: Mapping[str, str],
    keyword_weak: Mapping[str, str],
    chosen: set[str],
) -> tuple[bool, list[str]]:
    """Weigh keywords and the LLM's vote for a tag: (do they make it?, their reasons)."""
    broad = tag.id in BROAD_TAGS
    why: list[str] = []
    keyword_why = keyword_strong.get(tag.id) or keyword_weak.get(tag.id)
    if keyword_why is not None:
        why.append(keyword_why)
    if tag.id in chosen:
        why.append("chosen by the LLM")
    if not why:
        return False, why
    if not broad and (tag.id in keyword_strong or tag.id in chosen):
        return True, why
    # Top-ups: at most one hit from all keywords (they restate the abstract) and one from the
    # LLM, and only on top of a hit of the tag's own patterns.
    return text_hits > 0 and text_hits + len(why) >= tag.min_hits, why


def tag_paper(paper: Paper, *, llm_tags: LlmTags = ()) -> tuple[str, ...]:
    """Return the paper's tag ids, deduplicated, in taxonomy display order."""
    return tuple(_evidence(paper, llm_tags))


def explain(paper: Paper, *, llm_tags: LlmTags = ()) -> dict[str, list[str]]:
    """Return each tag tag_paper gives, with the rules, keywords or votes that gave it."""
    return _evidence(paper, llm_tags)


# ---- quotes ----------------------------------------------------------------------------------

_WORD_RE: Final[re.Pattern[str]] = re.compile(r"[^\W_]+")
_MAX_QUOTE_WORDS: Final[int] = 40
_EXTRA_WORDS: Final[int] = 3
_MISSING_SHARE: Final[int] = 8


def _words(text: str) -> list[tuple[str, int, int]]:
    """Split text into folded words with their spans; punctuation, quotes and dashes drop out."""
    folded = unicodedata.normalize("NFKC", text)
    return [(m.group(0).casefold(), m.start(), m.end()) for m in _WORD_RE.finditer(folded)]


def find_quote(quote: str, text: str) -> str | None:
    """Return the passage of text the quote comes from, or None if the quote is not in it.

    Case, whitespace, punctuation, quotes and dashes are ignored.  The quote's words must occur
    in the text in order, in one passage at most a few words longer than the quote (an LLM
    drops "manually audited,"), with at most one word in eight of the quote missing from it.
    """
    wanted = [word for word, _, _ in _words(quote)][:_MAX_QUOTE_WORDS]
    if not wanted:
        return None
    normalized = unicodedata.normalize("NFKC", text)
    words = _words(normalized)
    # A contiguous passage first, so that the tolerant search never starts a word early.
    span = _contiguous(wanted, words)
    if span is None:
        span = _passage(wanted, words, len(wanted) // _MISSING_SHARE)
    return None if span is None else normalized[span[0] : span[1]]


def _contiguous(wanted: list[str], words: list[tuple[str, int, int]]) -> tuple[int, int] | None:
    """Find the wanted words as one run of words: its character span."""
    size = len(wanted)
    for start in range(len(words) - size + 1):
        if all(words[start + i][0] == word for i, word in enumerate(wanted)):
            return words[start][1], words[start + size - 1][2]
    return None


def _passage(
    wanted: list[str], words: list[tuple[str, int, int]], allowed_missing: int
) -> tuple[int, int] | None:
    """Find the wanted words in order in a short passage of words: its character span."""
    for start in range(len(words)):
        if words[start][0] != wanted[0] and allowed_missing == 0:
            continue
        limit = min(len(words), start + len(wanted) + _EXTRA_WORDS)
        position, missing, first, last = start, 0, -1, -1
        for word in wanted:
            found = next((i for i in range(position, limit) if words[i][0] == word), None)
            if found is None:
                missing += 1
                if missing > allowed_missing:
                    break
                continue
            first = found if first < 0 else first
            last, position = found, found + 1
        else:
            if first >= 0:
                return words[first][1], words[last][2]
    return None
