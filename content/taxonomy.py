r"""The fixed, versioned list of topic tags and the parser of user-typed tag lists.

Pure domain code: standard library only, no I/O.  Importing the module only builds
constant data (the tag list, its lookup index and precompiled regexes).

Pattern convention: every pattern source below goes through :func:`_p`, which compiles it
case-insensitively, turns each literal space into ``[\s~-]+`` and each " ?" into ``[\s~-]*``.
So ``"large language model"`` also matches ``"large-language\nmodel"`` and LaTeX's
``"Mixture of Experts~(MoE)"``, and ``"fine ?tuning"`` matches "finetuning", "fine-tuning" and
"fine tuning".  Lookbehinds must spell separators as ``\s`` (they need a fixed width), and
acronyms that collide with ordinary words are wrapped in ``(?-i:...)`` to stay case-sensitive.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

TAXONOMY_VERSION: Final[int] = 1

Family = Literal["models", "modality", "task", "training", "meta"]

FAMILIES: Final[tuple[Family, ...]] = ("models", "modality", "task", "training", "meta")

FAMILY_NAMES_RU: Final[Mapping[Family, str]] = {
    "models": "Модели и архитектуры",
    "modality": "Модальности",
    "task": "Задачи и применения",
    "training": "Обучение, данные и инференс",
    "meta": "Оценка, обзоры и общие вопросы",
}

MAX_TOKENS: Final[int] = 60
"""At most this many tokens of user input are looked at."""

MAX_TOKEN_CHARS: Final[int] = 48
"""Longer tokens are reported as unknown, truncated, without a suggestion."""

MAX_INPUT_CHARS: Final[int] = 4096
"""Input beyond this length (Telegram's message limit) is ignored."""

SUGGESTION_CUTOFF: Final[float] = 0.6
SHORT_SUGGESTION_CUTOFF: Final[float] = 0.85
"""Tokens of up to 3 characters need a closer match to get a suggestion."""

_SEP: Final[str] = r"[\s~\-]+"
_OPT_SEP: Final[str] = r"[\s~\-]*"


@dataclass(frozen=True, slots=True)
class Tag:
    """One topic tag: stable id, Russian texts, user aliases and English text patterns."""

    id: str
    name_ru: str
    description_ru: str
    family: Family
    aliases: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    min_hits: int = 1
    popular: bool = False

    def mentions(self, text: str) -> list[str]:
        """Return the mentions in text, as matched: matches of all patterns, overlaps merged."""
        spans = sorted(
            match.span() for pattern in self.patterns for match in pattern.finditer(text)
        )
        found: list[str] = []
        end = -1
        for span_start, span_end in spans:
            if span_start >= end:
                found.append(text[span_start:span_end])
            end = max(end, span_end)
        return found

    def hits(self, text: str) -> int:
        """Count mentions in text: matches of all patterns, overlapping ones counted once."""
        return len(self.mentions(text))

    def matches(self, text: str) -> bool:
        """Tell whether text (a paper's title + abstract) has at least min_hits hits."""
        return bool(self.patterns) and self.hits(text) >= self.min_hits


@dataclass(frozen=True, slots=True)
class UnknownTag:
    """A token that is not a tag, shown back as-is (escape it!) with a possible suggestion."""

    raw: str
    suggestion: str | None


@dataclass(frozen=True, slots=True)
class TagResolution:
    """Result of parsing user input: recognised tag ids in input order and unknown tokens."""

    tags: tuple[str, ...]
    unknown: tuple[UnknownTag, ...]

    @property
    def is_empty(self) -> bool:
        """True when the input held nothing that could be a tag (blank, emoji, punctuation)."""
        return not self.tags and not self.unknown


def _p(source: str) -> re.Pattern[str]:
    """Compile a tag pattern case-insensitively; " " is a separator run, " ?" an optional one."""
    return re.compile(source.replace(" ?", _OPT_SEP).replace(" ", _SEP), re.IGNORECASE)


def _tag(
    tag_id: str,
    family: Family,
    name_ru: str,
    description_ru: str,
    *,
    aliases: tuple[str, ...] = (),
    patterns: tuple[str, ...] = (),
    min_hits: int = 1,
    popular: bool = False,
) -> Tag:
    """Build a Tag, compiling its pattern sources with :func:`_p`."""
    return Tag(
        id=tag_id,
        name_ru=name_ru,
        description_ru=description_ru,
        family=family,
        aliases=aliases,
        patterns=tuple(_p(source) for source in patterns),
        min_hits=min_hits,
        popular=popular,
    )


# "large language model" not preceded by a word that makes it a multimodal one.
_NOT_MULTIMODAL: Final[str] = (
    r"(?<!modal\s)(?<!modal~)(?<!modal-)(?<!vision\s)(?<!video\s)(?<!audio\s)"
    r"(?<!speech\s)(?<!omni\s)"
)

TAGS: Final[tuple[Tag, ...]] = (
    # ---- popular: shown as buttons on /start --------------------------------------------
    _tag(
        "mllm",
        "models",
        "Мультимодальные LLM",
        "Языковые модели, которые понимают картинки, видео и звук: VLM, LVLM и родственные им",
        aliases=(
            "vlm",
            "vlms",
            "lvlm",
            "lvlms",
            "lmm",
            "lmms",
            "mllms",
            "мллм",
            "мультимодальные",
            "мультимодальные llm",
            "мультимодальные модели",
            "multimodal llm",
            "multimodal llms",
            "vision language model",
            "vision language models",
            "визуально языковые модели",
        ),
        patterns=(
            r"\bmulti ?modal large language models?\b",
            r"\bmulti ?modal LLMs?\b",
            r"\blarge multi ?modal models?\b",
            r"\b(?:large )?vis(?:ion|ual) language models?\b",
            r"\baudio language models?\b",
            # Named MLLMs and assistants: "GPT-4V(ision)", "multimodal GPT-4", "a multimodal
            # assistant".
            r"(?-i:\bGPT ?4V)",
            r"\bmulti ?modal (?:GPT ?4V?|chatbots?|assistants?)\b",
            r"\b(?:video|audio|speech|omni) (?:LLMs?|large language models?)\b",
            r"\b(?:MLLMs?|LVLMs?|VLMs?|LMMs?)\b",
        ),
        min_hits=2,
        popular=True,
    ),
    _tag(
        "llm",
        "models",
        "Большие языковые модели",
        "Всё о LLM: новые модели, их возможности, ограничения и применение",
        aliases=(
            "llms",
            "ллм",
            "языковые",
            "языковые модели",
            "большие языковые модели",
            "large language model",
            "large language models",
            "language models",
            "gpt",
            "llama",
        ),
        patterns=(
            _NOT_MULTIMODAL + r"\blarge language models?\b",
            # Not "MLLM" (no word boundary), not "Video-LLM"/"V-LLM" (hyphen before) and not
            # "Multimodal LLMs".
            _NOT_MULTIMODAL + r"(?<![-/])\bLLMs?\b",
        ),
        min_hits=3,
        popular=True,
    ),
    _tag(
        "agents",
        "task",
        "ИИ-агенты",
        "LLM-агенты, которые планируют, вызывают инструменты и действуют в браузере или ОС",
        aliases=(
            "агенты",
            "агент",
            "ии агенты",
            "ai agents",
            "agentic",
            "агентные системы",
            "tool use",
            "function calling",
        ),
        patterns=(
            r"\bagentic\b",
            r"\b(?:LLM|LLM based|LM|language model|AI|autonomous|web|GUI|computer use|"
            r"software|coding|research|mobile|conversational|deep research|multi ?modal|embodied"
            r"|generalist|language) agents?\b",
            r"\bmulti ?agent (?:systems?|frameworks?|collaboration|debate|LLMs?)\b",
            r"\btool (?:use|usage|calling|learning|augmented)\b",
            r"\bfunction calling\b",
            r"\bagent (?:benchmarks?|frameworks?|workflows?|trajector(?:y|ies))\b",
            r"\bagent ?computer interfaces?\b",
        ),
        min_hits=2,
        popular=True,
    ),
    _tag(
        "reasoning",
        "task",
        "Рассуждения",
        "Цепочки рассуждений, reasoning-модели и многошаговое решение задач",
        aliases=(
            "рассуждения",
            "рассуждение",
            "ризонинг",
            "cot",
            "chain of thought",
            "цепочка рассуждений",
            "цепочки рассуждений",
        ),
        patterns=(
            r"\bchain of thoughts?\b",
            r"(?-i:\bCoTs?\b)",
            r"\b(?:large )?reasoning (?:models?|LLMs?|language models?)\b",
            r"(?-i:\bLRMs?\b)",
            r"\breasoning (?:capabilit(?:y|ies)|abilit(?:y|ies)|traces?|chains?|paths?|steps?"
            r"|process(?:es)?|skills?|performance|tasks?)\b",
            r"\bmulti ?(?:step|hop) reasoning\b",
            r"\b(?:mathematical|logical|deductive|inductive|commonsense|spatial|visual|causal"
            r"|complex) reasoning\b",
            r"\btest ?time (?:scaling|compute)\b",
            r"\bslow thinking\b",
        ),
        min_hits=3,
        popular=True,
    ),
    _tag(
        "rl",
        "training",
        "Обучение с подкреплением",
        "RL: награды, политики, PPO и GRPO, в том числе для дообучения LLM",
        aliases=(
            "reinforcement learning",
            "обучение с подкреплением",
            "рл",
            "подкрепление",
            "grpo",
            "ppo",
        ),
        patterns=(
            # "Reinforcement learning from human feedback" is evidence for rlhf, not for rl.
            r"\breinforcement learning\b(?! from (?:human|AI) feedback)",
            r"(?-i:\bRL\b)",
            r"(?-i:\b(?:GRPO|PPO|DAPO|RLVR)\b)",
            r"\bpolicy (?:gradients?|optimi[sz]ation)\b",
            r"\bverifiable rewards?\b",
            r"\b(?:Q learning|actor critic)\b",
        ),
        min_hits=2,
        popular=True,
    ),
    _tag(
        "cv",
        "modality",
        "Компьютерное зрение",
        "Детекция, сегментация, классификация, генерация и обработка изображений",
        aliases=(
            "vision",
            "зрение",
            "компьютерное зрение",
            "computer vision",
            "изображения",
            "картинки",
            "images",
        ),
        patterns=(
            r"\bcomputer vision\b",
            r"\b(?:image|semantic|instance|panoptic|referring) segmentation\b",
            r"\bobject detection\b",
            # "(evaluated) on image classification" is where an optimizer or LLM is tested.
            r"(?<!\bon\s)\bimage (?:classification|generation|editing|restoration|super resolution"
            r"|recognition|synthesis|inpainting|retrieval|captioning)\b",
            r"\btext to image\b",
            r"\bvision transformers?\b",
            r"(?-i:\bViTs?\b)",
            r"\b(?:depth|pose|optical flow) estimation\b",
            r"\bvisual (?:recognition|tokeni[sz]ers?|encoders?)\b",
        ),
        min_hits=2,
        popular=True,
    ),
    _tag(
        "benchmark",
        "meta",
        "Бенчмарки",
        "Новые бенчмарки и способы оценивать модели",
        aliases=(
            "бенчмарк",
            "бенчмарки",
            "бенч",
            "evaluation",
            "evals",
            "оценка моделей",
        ),
        patterns=(
            # "we introduce X-Bench, a challenging benchmark", "present a new benchmark"
            r"\b(?:introduc|present|propos|releas|construct|buil|develop|curat|design|creat)\w*"
            r"\s+(?:(?:a|an|the|new|novel|first|comprehensive|challenging|large scale|unified"
            r"|holistic|systematic|rigorous|dynamic|diverse|multimodal|(?-i:[A-Z][\w-]*)),?\s+)"
            r"{0,4}(?:benchmark|evaluation (?:suite|framework)|testbed)\b",
            r"\b(?:a|our|this) (?:new|novel|challenging|comprehensive|holistic|large scale)"
            r" benchmark\b",
            r"\bbenchmark (?:designed|to evaluate|for evaluating|that evaluates|comprising"
            r"|consisting of|containing)\b",
        ),
        popular=True,
    ),
    _tag(
        "moe",
        "models",
        "Смесь экспертов (MoE)",
        "Архитектуры Mixture-of-Experts: модель делит работу между подсетями-экспертами",
        aliases=(
            "mixture of experts",
            "mixtureofexperts",
            "смесь экспертов",
            "moes",
        ),
        patterns=(
            r"\bmixture of experts?\b",
            r"(?-i:\b(?:S?MoEs?|MOEs?)\b)",
            r"\b(?:sparse|routed|shared|activated) experts\b",
            r"\bexpert (?:routing|parallelism|load balancing)\b",
        ),
        popular=True,
    ),
    # ---- models ---------------------------------------------------------------------------
    _tag(
        "small_models",
        "models",
        "Компактные модели",
        "Небольшие модели, которые работают на ноутбуке, телефоне или слабом сервере",
        aliases=(
            "малые модели",
            "маленькие модели",
            "компактные модели",
            "slm",
            "slms",
            "small language models",
            "on device",
        ),
        patterns=(
            r"\bsmall (?:language |vision language |reasoning )?models?\b",
            r"(?-i:\bSLMs?\b)",
            r"\b(?:compact|lightweight|tiny) (?:language |vision language )?models?\b",
            r"\bon ?device\b",
            r"\b(?:edge|mobile) devices?\b",
            r"\b(?:deploy\w*|run\w*|locally) on (?:a |your |the )?(?:mobile )?(?:smart ?)?"
            r"phones?\b",
            r"\b(?:\d{2,3}M|0\.\d+B|[1-3](?:\.\d+)?B) param",
        ),
        min_hits=2,
    ),
    _tag(
        "architecture",
        "models",
        "Архитектуры",
        "Новые устройства нейросетей: трансформеры, механизмы внимания, SSM и Mamba",
        aliases=(
            "архитектура",
            "архитектуры",
            "transformer",
            "transformers",
            "трансформер",
            "трансформеры",
            "attention",
            "внимание",
            "mamba",
            "ssm",
        ),
        patterns=(
            r"\b(?:novel|new|hybrid|efficient|alternative) (?:neural |model |network )?"
            r"architectures?\b",
            r"\barchitectur(?:e|al) (?:design|modifications?|changes|innovations?)\b",
            r"\b(?:MoE\)?|SMoE\)?|U ?Net|Transformer|decoder only|encoder decoder)"
            r" architectures?\b",
            r"\bstate space models?\b",
            r"(?-i:\bSSMs?\b)",
            r"(?-i:\b(?:Mamba|RWKV)\b)",
            r"\b(?:linear|sparse|multi head|causal|grouped query|sliding window|softmax)"
            r" attention\b",
            r"\battention mechanisms?\b",
            r"\bpositional (?:encodings?|embeddings?)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "diffusion",
        "models",
        "Диффузионные модели",
        "Генерация диффузией и flow matching: картинки, видео и не только",
        aliases=(
            "диффузия",
            "диффузионные",
            "диффузионные модели",
            "diffusion models",
            "stable diffusion",
            "flow matching",
        ),
        patterns=(
            r"\bdiffusion (?:models?|transformers?|process|polic(?:y|ies)|sampling|steps"
            r"|priors?|backbones?|LLMs?|language models?|based)\b",
            r"\b(?:latent|video|image|stable|masked|discrete|text|denoising) diffusion\b",
            r"(?-i:\b(?:DiTs?|DDPM|DDIM)\b)",
            r"\bflow matching\b",
            r"\bscore based (?:generative )?models?\b",
            r"\bclassifier free guidance\b",
        ),
        min_hits=2,
    ),
    # ---- modality -------------------------------------------------------------------------
    _tag(
        "multimodal",
        "modality",
        "Мультимодальность",
        "Модели и задачи, где текст сочетается с изображениями, звуком и другими данными",
        aliases=(
            "мультимодальность",
            "multi modal",
            "omni",
            "омни",
            "cross modal",
        ),
        patterns=(
            r"\bmulti ?modal(?:ity|ities)?\b",
            r"\bcross ?modal\b",
            r"\bomni ?modal\b",
            r"\b(?:vision|visual|image|video|audio) (?:language|text)\b",
            r"\baudio visual\b",
            # Not bare "modalities": Mamba is tested on "modalities such as language, audio and
            # genomics" without being multimodal.
            r"\b(?:vision|visual|image|text|textual|audio|speech|video) modalit(?:y|ies)\b",
            r"\bmodalities (?:such as|like|including) (?:images?|vision|videos?|audio|speech)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "video",
        "modality",
        "Видео",
        "Понимание и генерация видео",
        aliases=("видео", "videos", "ролики", "video generation", "генерация видео"),
        patterns=(
            r"\bvideo (?:generation|understanding|diffusion|editing|synthesis|question answering"
            r"|QA|LLMs?|language models?|frames?|clips?|captioning|prediction|models?"
            r"|tokeni[sz]ers?|segmentation|tracking|reasoning|benchmarks?|datasets?)\b",
            r"\b(?:text|image) to video\b",
            r"\b(?:long|egocentric|streaming|short) videos?\b",
            r"\btemporal (?:consistency|coherence|grounding|localization)\b",
            r"\bvideo ?LLMs?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "audio",
        "modality",
        "Аудио и музыка",
        "Генерация, понимание и обработка звука и музыки",
        aliases=("аудио", "звук", "music", "музыка", "sound"),
        patterns=(
            r"\b(?:audio|music|sound) (?:generation|understanding|captioning|tokeni[sz]ers?"
            r"|codecs?|language models?|LLMs?|encoders?|synthesis|separation|events?|effects"
            r"|classification|editing|tracks?|clips?|signals?|quality|modality)\b",
            r"\btext to (?:audio|music)\b",
            r"\baudio ?visual\b",
            r"\b(?:singing voice|musical)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "speech",
        "modality",
        "Речь",
        "Распознавание и синтез речи, голосовые ассистенты",
        aliases=(
            "речь",
            "голос",
            "voice",
            "asr",
            "tts",
            "speech recognition",
            "распознавание речи",
            "синтез речи",
            "text to speech",
            "speech to text",
        ),
        patterns=(
            r"\bspeech (?:recognition|synthesis|translation|enhancement|separation"
            r"|language models?|tokeni[sz]ers?|LLMs?|codecs?|generation|understanding"
            r"|encoders?)\b",
            r"\btext to speech\b",
            r"\bspoken (?:language|dialogue|question|conversations?)\b",
            r"\bvoice (?:cloning|conversion|assistants?|agents?|interaction)\b",
            r"\bspeaker (?:verification|diarization|identification)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "3d",
        "modality",
        "3D-объекты и сцены",
        "Реконструкция и генерация трёхмерных объектов и сцен: NeRF, гауссов сплаттинг",
        aliases=(
            "3д",
            "трехмерные",
            "трехмерное",
            "nerf",
            "gaussian splatting",
            "3dgs",
        ),
        patterns=(
            r"\b3D (?:reconstruction|generation|scenes?|objects?|assets?|shapes?|meshe?s?"
            r"|point clouds?|understanding|Gaussians?|representations?|human|avatars?"
            r"|perception|detection|geometry|content|editing|models?|spatial|world)\b",
            r"\bNeRFs?\b",
            r"\bneural radiance fields?\b",
            r"\bGaussian splatting\b",
            r"(?-i:\b3DGS\b)",
            r"\bpoint clouds?\b",
            r"\bnovel ?view synthesis\b",
            r"\bmulti ?view (?:stereo|generation|diffusion|images|consistency)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "ocr",
        "modality",
        "Распознавание текста (OCR)",
        "Чтение текста на изображениях и разбор документов, таблиц и сканов",
        aliases=(
            "распознавание текста",
            "optical character recognition",
            "document understanding",
            "документы",
        ),
        patterns=(
            r"(?-i:\bOCR\b)",
            r"\boptical character recognition\b",
            r"\b(?:document|layout|table) (?:understanding|parsing|analysis|recognition"
            r"|extraction)\b",
            r"\bscene text\b",
            r"\btext (?:recognition|spotting)\b",
            r"\bhandwrit(?:ten|ing)\b",
            r"\bscanned (?:documents?|pages?)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "vqa",
        "modality",
        "Вопросы по изображениям (VQA)",
        "Модели отвечают на вопросы по картинкам, графикам и видео",
        aliases=(
            "visual question answering",
            "визуальные вопросы",
            "вопросы по картинкам",
        ),
        patterns=(
            r"\bvisual question answering\b",
            r"\bvideo question answering\b",
            r"(?-i:\b[A-Za-z]*VQA(?:v2)?\b)",
            r"\b(?:image|visual|video|chart) (?:QA|questions?)\b",
            r"\bquestions? about (?:images|videos|the image|visual content)\b",
        ),
        min_hits=2,
    ),
    # ---- tasks and applications -----------------------------------------------------------
    _tag(
        "code",
        "task",
        "Программирование",
        "Генерация и исправление кода, агенты для разработки ПО",
        aliases=(
            "код",
            "кодинг",
            "программирование",
            "programming",
            "coding",
            "software engineering",
            "разработка по",
            "swe",
            "code generation",
            "генерация кода",
        ),
        patterns=(
            r"\bcode (?:generation|completion|repair|review|editing|agents?|execution"
            r"|reasoning)\b",
            r"\bsoftware (?:engineering|development)\b",
            r"\bSWE ?(?:bench|agent)\w*",
            r"\b(?:bug|program) (?:fixing|repair)\b",
            r"\bcoding (?:tasks?|agents?|assistants?|benchmarks?|abilit(?:y|ies)|problems?)\b",
            r"\bGitHub (?:issues?|repositor(?:y|ies))\b",
            r"\brepository level\b",
            r"\bunit tests?\b",
            r"(?-i:\b(?:HumanEval\w*|MBPP|LiveCodeBench|CodeContests)\b)",
        ),
        min_hits=2,
    ),
    _tag(
        "plp",
        "task",
        "Модели для кода",
        "Обработка языков программирования: модели кода, синтез программ, text-to-SQL",
        aliases=(
            "code llm",
            "code llms",
            "code models",
            "модели кода",
            "языки программирования",
            "programming languages",
            "program synthesis",
            "синтез программ",
            "text to sql",
            "ml4code",
        ),
        patterns=(
            r"\bcode (?:LLMs?|large language models?|language models?|models?"
            r"|representations?|understanding|search|summari[sz]ation|translation"
            r"|embeddings?|corpus|pre ?training)\b",
            r"\bprogramming languages?\b",
            r"\bprogram synthesis\b",
            r"\btext to SQL\b",
            r"\b(?:de)?compil(?:er|ers|ation)\b",
            r"\b(?:large )?(?:LLMs?|language models?) for code\b",
            r"\babstract syntax trees?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "math",
        "task",
        "Математика",
        "Решение математических задач и доказательство теорем",
        aliases=(
            "математика",
            "mathematics",
            "теоремы",
            "theorem proving",
            "доказательство теорем",
        ),
        patterns=(
            r"\bmath(?:ematical|ematics)? (?:reasoning|problems?|word problems?|benchmarks?"
            r"|competitions?|olympiads?|tasks?|solving|questions?|proofs?|datasets?)\b",
            r"\btheorem proving\b",
            r"\b(?:automated|formal) (?:theorem|proofs?|mathematics)\b",
            r"(?-i:\b(?:Lean ?4|Isabelle|GSM8K|MATH(?: ?500)?|AIME(?: ?\d{2,4})?|OlympiadBench"
            r"|MiniF2F|miniF2F)\b)",
            r"\b(?:olympiad|geometry problems?)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "rag",
        "task",
        "RAG и поиск",
        "Генерация с опорой на найденные документы, ретриверы и поиск",
        aliases=(
            "retrieval augmented generation",
            "retrieval",
            "retriever",
            "ретривал",
            "ретривер",
            "поиск",
            "graphrag",
        ),
        patterns=(
            r"\bretrieval ?augmented (?:generation|LLMs?|language models?|models?)\b",
            r"(?-i:\b(?:RAG|GraphRAG)\b)",
            r"\bdense retriev(?:al|er|ers)\b",
            r"\bretrieved (?:documents|passages|context|knowledge|evidence)\b",
            r"\b(?:re ?rankers?|retrievers?)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "robotics",
        "task",
        "Робототехника",
        "Управление роботами: манипуляция, навигация, воплощённый ИИ",
        aliases=(
            "робототехника",
            "роботы",
            "робот",
            "robot",
            "robots",
            "embodied",
            "embodied ai",
            "воплощенный ии",
        ),
        patterns=(
            r"\brobot(?:s|ic|ics)?\b",
            r"\bembodied\b",
            r"\bmanipulation (?:tasks?|policies|skills)\b",
            r"\bgrasp(?:ing)? (?:poses?|detection|planning|synthesis|success)\b",
            r"\blocomotion\b",
            r"\bsim to real\b",
            r"\bhumanoids?\b",
            r"\bquadrupeds?\b",
            r"\bdexterous\b",
        ),
        min_hits=2,
    ),
    _tag(
        "vla",
        "task",
        "VLA-модели",
        "Модели «зрение — язык — действие», которые управляют роботом по командам на словах",
        aliases=(
            "vision language action",
            "vision language action model",
            "vision language action models",
            "vlas",
            "зрение язык действие",
        ),
        patterns=(
            r"\bvision language action\b",
            r"(?-i:\bVLAs?\b)",
        ),
    ),
    _tag(
        "healthcare",
        "task",
        "Медицина",
        "ИИ в медицине: диагностика, медицинские снимки, клинические данные",
        aliases=(
            "медицина",
            "medicine",
            "medical",
            "здравоохранение",
            "health",
            "healthcare ai",
            "клиника",
        ),
        patterns=(
            r"\b(?:medical|clinical|clinicians?|biomedical|healthcare|health care|radiology"
            r"|pathology|patients?|EHRs?|electronic health records?|diseases?|MRI|CT scans?"
            r"|X rays?|histopatholog\w*)\b",
            r"\bdiagnos(?:is|tic|es)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "science",
        "task",
        "ИИ для науки",
        "Модели для химии, биологии, физики, материаловедения и научных открытий",
        aliases=(
            "наука",
            "научные",
            "ai4science",
            "ai for science",
            "химия",
            "биология",
            "физика",
            "chemistry",
            "biology",
            "physics",
        ),
        patterns=(
            r"\bscientific (?:discovery|research|literature|papers?|hypothes[ie]s|workflows?"
            r"|domains?|reasoning|experiments?)\b",
            r"\bAI (?:for|4) science\b",
            r"\b(?:chemistry|chemical|molecules?|molecular|proteins?|materials science"
            r"|biology|genomics?|drug discovery|astronomy|astrophysics)\b",
            # Not bare "physics": video and robotics papers talk about "physics-aware" motion.
            r"\b(?:quantum|particle|high energy|condensed matter|computational|plasma) physics\b",
            r"\bphysics (?:research|problems|olympiads?|simulations? of)\b",
            r"\b(?:climate (?:science|modell?ing|models?|change|prediction)|weather forecasting)\b",
            r"\b(?:AI|automated) scientists?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "games",
        "task",
        "Игры",
        "ИИ в видеоиграх и настольных играх, игровые среды и генерация игр",
        aliases=("игры", "gaming", "game", "игровые", "видеоигры"),
        patterns=(
            r"\b(?:video|board|card|Atari|open world|text based|strategy) games?\b",
            r"(?-i:\b(?:Minecraft|StarCraft|Dota|NetHack|Sokoban|Pok[eé]mon|Tetris"
            r"|Super Mario|chess|Chess|poker|Poker)\b)",
            r"\bgame (?:engines?|playing|environments?|agents?|worlds?|development|design"
            r"|levels?|generation)\b",
            r"\bgameplay\b",
            # Not "reward gaming" / "specification gaming" from alignment papers.
            r"(?<!reward\s)(?<!specification\s)(?<!metric\s)\bgaming\b",
        ),
        min_hits=2,
    ),
    _tag(
        "story_generation",
        "task",
        "Генерация историй",
        "Рассказы, сценарии, интерактивная проза и творческое письмо",
        aliases=(
            "истории",
            "рассказы",
            "сторителлинг",
            "storytelling",
            "stories",
            "creative writing",
            "творческое письмо",
            "генерация историй",
        ),
        patterns=(
            r"\bstor(?:y|ies) (?:generation|telling|writing|continuation|visuali[sz]ation)\b",
            r"\bstorytelling\b",
            r"\bcreative writing\b",
            r"\bfiction(?:al)? (?:writing|stories|narratives?)\b",
            r"\bnarrative (?:generation|coherence|structure)\b",
            r"\b(?:long form|interactive) (?:stor(?:y|ies)|fiction|narratives?)\b",
            r"\bscreenplays?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "nlp",
        "task",
        "Обработка текста (NLP)",
        "Классические задачи NLP: классификация, извлечение информации, суммаризация, разбор",
        aliases=(
            "нлп",
            "natural language processing",
            "обработка текста",
            "обработка языка",
            "text classification",
            "суммаризация",
            "summarization",
        ),
        patterns=(
            r"\bnamed entity recognition\b",
            r"(?-i:\bNER\b)",
            r"\bsentiment (?:analysis|classification)\b",
            r"\btext classification\b",
            r"\b(?:text|document|abstractive|extractive|dialogue) summari[sz]ation\b",
            r"\b(?:relation|information|event|keyphrase) extraction\b",
            r"\bnatural language inference\b",
            r"\b(?:dependency|constituency|semantic) parsing\b",
            r"\b(?:part of speech tagging|coreference resolution|entity linking)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "multilingual",
        "task",
        "Многоязычность",
        "Модели и данные для многих языков, перенос знаний между языками",
        aliases=(
            "многоязычность",
            "многоязычные",
            "мультиязычность",
            "мультиязычные",
            "cross lingual",
            "кросс языковой",
        ),
        patterns=(
            r"\bmulti ?lingual(?:ity|ism)?\b",
            r"\bcross ?lingual\b",
            r"\b(?:\d+|many|multiple|diverse|several|typologically diverse) languages\b",
            r"\bnon English\b",
            r"\blanguages other than English\b",
        ),
        min_hits=2,
    ),
    _tag(
        "machine_translation",
        "task",
        "Машинный перевод",
        "Перевод текста и речи с одного языка на другой",
        aliases=("машинный перевод", "перевод", "translation", "mt", "nmt"),
        patterns=(
            r"\bmachine translation\b",
            r"(?-i:\bN?MT\b(?! ?Bench))",
            r"\b(?:speech|document level|simultaneous|multilingual) translation\b",
            r"\btranslation (?:quality|tasks?|systems?|directions?|pairs?|benchmarks?|workflows?"
            r"|related)\b",
            r"(?-i:\bWMT(?:\d\d)?\b)",
            r"\b(?:English|Chinese|German|French|Russian|Japanese|Spanish) to (?:English"
            r"|Chinese|German|French|Russian|Japanese|Spanish)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "low_resource",
        "task",
        "Малоресурсные языки",
        "Языки, для которых мало данных, и как научить модели работать с ними",
        aliases=(
            "малоресурсные",
            "малоресурсные языки",
            "редкие языки",
            "lowresource",
            "low resource languages",
        ),
        patterns=(
            r"\blow ?resource(?:d)? (?:\w+ )?languages?\b",
            r"\blow ?resource(?:d)? (?:machine translation|MT|ASR|speech recognition)\b",
            r"\bunder ?(?:resourced|represented) languages?\b",
            r"\bresource-(?:poor|scarce|constrained) languages?\b",
            r"(?-i:\b(?:Swahili|Yoruba|Hausa|Amharic|Igbo|Nepali|Sinhala|Quechua|Tatar"
            r"|Bashkir|Kazakh|Uzbek|Kyrgyz|Zulu|Wolof)\b)",
        ),
    ),
    _tag(
        "graphs",
        "task",
        "Графы",
        "Графовые нейросети, графы знаний и рассуждения на графах",
        aliases=("графы", "граф", "графовые", "graph", "gnn", "gnns", "граф знаний"),
        patterns=(
            r"\bgraph neural networks?\b",
            r"(?-i:\bGNNs?\b)",
            r"\bknowledge graphs?\b",
            r"\bgraph (?:learning|reasoning|structures?|transformers?|representations?|data"
            r"|tasks?|classification|generation|convolutional|foundation models?)\b",
            r"\bnode (?:classification|embeddings?)\b",
            r"\blink prediction\b",
            r"(?-i:\bGraphRAG\b)",
        ),
        min_hits=2,
    ),
    # ---- training, data and inference -----------------------------------------------------
    _tag(
        "training",
        "training",
        "Обучение моделей",
        "Предобучение и дообучение: рецепты, законы масштабирования, SFT и LoRA",
        aliases=(
            "обучение",
            "тренировка",
            "pretraining",
            "предобучение",
            "fine tuning",
            "finetuning",
            "файнтюнинг",
            "дообучение",
            "sft",
            "lora",
        ),
        patterns=(
            r"\bpre ?training (?:recipes?|strateg(?:y|ies)|objectives?|stability|dynamics"
            r"|pipeline|efficiency)\b",
            r"\btraining (?:recipes?|dynamics|stability|efficiency|pipeline|strateg(?:y|ies)"
            r"|objectives?|methods?|framework|procedure|paradigm)\b",
            r"\bscaling laws?\b",
            r"\bsupervised fine ?tuning\b",
            r"(?-i:\b(?:SFT|PEFT|LoRA)\b)",
            r"\bparameter efficient fine ?tuning\b",
            r"\binstruction (?:tuning|fine ?tun(?:ing|ed))\b",
            r"\blow ?rank adapt(?:ation|ers?)\b",
            r"\bcurriculum learning\b",
            r"\bcontinu(?:al|ed|es|ing) pre ?training\b",
        ),
        min_hits=2,
    ),
    _tag(
        "rlhf",
        "training",
        "RLHF и предпочтения",
        "Обучение на предпочтениях людей: RLHF, DPO, модели вознаграждения",
        aliases=(
            "dpo",
            "rlaif",
            "preference optimization",
            "обучение на предпочтениях",
            "human feedback",
            "reinforcement learning from human feedback",
            "reward model",
            "reward models",
        ),
        patterns=(
            r"(?-i:\b(?:RLHF|RLAIF|DPO)\b)",
            r"\breinforcement learning from (?:human|AI) feedback\b",
            r"\bdirect preference optimization\b",
            r"\bpreference (?:optimization|alignment|data|learning|pairs|tuning)\b",
            r"\breward model(?:s|ing)?\b",
            r"\bhuman feedback\b",
        ),
        min_hits=2,
    ),
    _tag(
        "alignment",
        "training",
        "Согласование с ценностями (alignment)",
        "Как сделать модели полезными, честными и безвредными для людей",
        aliases=(
            "алайнмент",
            "элайнмент",
            "выравнивание",
            "ai alignment",
            "superalignment",
        ),
        patterns=(
            r"\b(?:AI|value|human|safety|LLM|model) alignment\b",
            r"\baligned with human (?:values|preferences|intent(?:ions)?)\b",
            r"\b(?:aligned|aligning) (?:these |the |our )?(?:large )?(?:language models?|LLMs?)\b",
            r"\bsafety (?:training|tuning|fine ?tuning)\b",
            r"\balign\w* (?:\w+ ){0,3}with human (?:values|preferences|intent(?:ions)?)\b",
            r"\bsuper ?alignment\b",
            r"\bmisalignment\b",
            r"\bconstitutional AI\b",
            r"\breward hacking\b",
            r"\b(?:harmlessness|honesty)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "optimization",
        "training",
        "Оптимизация",
        "Оптимизаторы, сходимость и вычислительная эффективность обучения",
        aliases=("оптимизация", "optimizer", "optimizers", "оптимизатор", "оптимизаторы"),
        patterns=(
            r"\boptimi[sz]ers?\b",
            r"(?-i:\b(?:AdamW?|SGD|Muon|Shampoo)\b)",
            r"\b(?:learning rate|convergence rate|gradient descent|loss landscape)\b",
            r"\bsecond order (?:methods?|optimi[sz]ation)\b",
            r"\b(?:training|pre ?training) (?:efficiency|cost|throughput)\b",
            r"\bcompute ?optimal\b",
            r"\bmixed precision\b",
        ),
        min_hits=2,
    ),
    _tag(
        "inference",
        "training",
        "Инференс",
        "Быстрый и дешёвый запуск моделей: квантизация, KV-кэш, спекулятивное декодирование",
        aliases=(
            "инференс",
            "квантизация",
            "quantization",
            "ускорение",
            "speculative decoding",
            "спекулятивное декодирование",
            "kv cache",
        ),
        patterns=(
            r"\b(?:efficient|dynamic|fast|adaptive) inference\b",
            r"\binference (?:speed|latency|efficiency|cost|throughput|acceleration|time"
            r"|overhead|budget)\b",
            r"\b(?:speed ?ups?|accelerat\w+) (?:\w+ ){0,2}inference\b",
            r"\bspeculative decoding\b",
            # Not "vector quantization" of image/audio tokenizers.
            r"\b(?:model|weight|activation|KV(?: cache)?|post ?training|low ?bit|\d+ ?bits?|LLM"
            r"|INT[48]|FP[48]) quanti[sz](?:ation|ed)\b",
            r"\bquanti[sz]ed (?:models?|LLMs?|weights|networks?)\b",
            r"(?-i:\b(?:W4A16|W8A8|W4A8|INT4|INT8|FP8|FP4)\b)",
            r"\b(?:KV|key value) cache\b",
            r"\btokens? per second\b",
            r"\b\d+(?:\.\d+)? ?[x×] (?:faster|speed ?up|lower latency)\b",
            r"\b(?:model|weight|token|structured) pruning\b",
        ),
        min_hits=2,
    ),
    _tag(
        "long_context",
        "training",
        "Длинный контекст",
        "Работа с длинными текстами: расширение контекстного окна и память моделей",
        aliases=("длинный контекст", "longcontext", "long context window"),
        patterns=(
            r"\blong ?context\b",
            r"\b(?:longer|long|infinite|million ?length) (?:sequences|sequence lengths?|texts"
            r"|inputs|documents)\b",
            r"\bcontext (?:window |length )?extension\b",
            r"\bextend\w* (?:the )?context (?:window|length)\b",
            r"\blength (?:extrapolation|generalization)\b",
            r"\bneedle in a haystack\b",
            r"\b(?:128|256|512)K (?:tokens|context)\b",
            r"\b(?:\d+M|million) tokens? context\b",
        ),
        min_hits=2,
    ),
    _tag(
        "transfer_learning",
        "training",
        "Перенос знаний",
        "Перенос обучения, адаптация к новым доменам и дистилляция знаний",
        aliases=(
            "перенос обучения",
            "перенос знаний",
            "трансферное обучение",
            "domain adaptation",
            "доменная адаптация",
            "distillation",
            "дистилляция",
            "knowledge distillation",
        ),
        patterns=(
            r"\btransfer learning\b",
            r"\bdomain (?:adaptation|generalization)\b",
            r"\bknowledge distillation\b",
            r"(?-i:\bKD\b)",
            r"\b(?:teacher|student) (?:models?|networks?)\b",
            r"\bcross ?(?:domain|lingual|task) transfer\b",
            r"\bdistill(?:ation|ed|ing)? (?:\w+ )?(?:into|from) (?:a )?(?:smaller|student)\b",
            # Not "dataset distillation", which condenses data rather than transferring knowledge.
            r"(?<!dataset\s)(?<!dataset-)\bdistill(?:ation|ing|ed)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "data",
        "training",
        "Работа с данными",
        "Сбор, очистка, фильтрация и отбор данных для обучения",
        aliases=(
            "данные",
            "data curation",
            "курирование данных",
            "обработка данных",
            "data processing",
            "data quality",
            "качество данных",
        ),
        patterns=(
            r"\bdata (?:curation|filtering|selection|cleaning|mixtures?|mixing|quality"
            r"|pruning|deduplication|pipelines?|engines?|recipes?|composition|collection)\b",
            r"\bdeduplication\b",
            r"\bdata centric\b",
            r"\b(?:pre ?training|training) (?:data|corpus|corpora) (?:quality|selection|mixture)\b",
            r"\bquality filter(?:s|ing)?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "dataset",
        "training",
        "Датасеты",
        "Статьи, в которых выпускают новый набор данных",
        aliases=(
            "датасет",
            "датасеты",
            "набор данных",
            "наборы данных",
            "datasets",
            "corpus",
            "корпус",
        ),
        patterns=(
            # A verb, not the adjective ("a well-curated pretraining dataset" is not released).
            r"\b(?<![-~])(?:introduc|present|propos|releas|construct|buil|develop|curat|collect"
            r"|creat|open ?sourc)\w*"
            r"\s+(?:(?:a|an|the|new|novel|first|largest|large scale|high quality|comprehensive"
            r"|diverse|open|multimodal|synthetic|(?-i:[A-Z][\w-]*)),?\s+){0,4}(?:[\w-]+ ){0,2}"
            r"(?:datasets?|corpus)\b(?! (?:distillation|condensation|pruning|selection|bias))",
            r"\b(?:a|our|this) (?:new|novel|large scale|high quality) (?:\w+ )?(?:dataset"
            r"|corpus)\b",
            r"\b(?:dataset|corpus) (?:comprising|consisting of|containing|with over|of over)\b",
        ),
    ),
    _tag(
        "synthetic",
        "training",
        "Синтетические данные",
        "Генерация обучающих данных моделями и обучение на таких данных",
        aliases=(
            "синтетика",
            "синтетические",
            "синтетические данные",
            "synthetic data",
            "data synthesis",
        ),
        patterns=(
            r"\bsynthetic (?:data|datasets?|samples|examples|instructions|trajectories|corpus"
            r"|corpora|QA|questions|problems|training data)\b",
            r"\bdata synthesis\b",
            r"\bsynthesi[sz](?:e|es|ed|ing) (?:\w+ ){0,2}(?:data|training examples|samples)\b",
            r"\bsynthetically generated\b",
            r"\bself instruct\b",
        ),
        min_hits=2,
    ),
    # ---- meta -----------------------------------------------------------------------------
    _tag(
        "survey",
        "meta",
        "Обзоры",
        "Обзорные статьи, которые систематизируют целое направление",
        aliases=("обзор", "обзоры", "surveys", "review", "literature review"),
        patterns=(
            # "this survey", but not a questionnaire ("our survey of 300 developers").
            r"\b(?:this|our) (?:comprehensive |systematic |extensive )?survey\b"
            r"(?! (?:of \d|respondents|participants|results|data|responses|study))",
            r"(?-i:\bA (?:Comprehensive |Systematic )?Survey (?:on|of)\b)",
            r"(?-i::\s*A (?:Comprehensive |Systematic |Brief )?(?:Survey|Review)\b)",
            r"\b(?:comprehensive|systematic|extensive) (?:review|overview|survey)\b",
            r"\b(?:systematic )?literature review\b",
            r"\bwe (?:survey|review|systemati[sz]e) (?:the )?(?:recent|existing|current|state)\b",
            r"\btaxonomy\b",
            r"\bopen (?:challenges|problems) and future directions\b",
        ),
        min_hits=2,
    ),
    _tag(
        "open_source",
        "meta",
        "Открытый код и веса",
        "Авторы выкладывают код, веса моделей или данные в открытый доступ",
        aliases=(
            "опенсорс",
            "opensource",
            "открытый код",
            "открытые модели",
            "открытые веса",
            "open weights",
        ),
        patterns=(
            # Releasing something, not merely comparing with "open-source models".
            r"\b(?:is|are|be|been|being|was|were|fully) open ?sourced\b",
            r"\b(?:we|will|plan to) (?:fully )?open ?source\b",
            r"\bwe (?:also |are |will |publicly |openly |fully )*releas(?:e|ing) (?:[\w-]+,? ){0,3}"
            r"(?:code(?:base)?|models?|weights|datasets?|checkpoints|benchmarks?)\b",
            r"\b(?:(?:our|the|all) (?:\w+ )?(?:models?|datasets?|benchmarks?|data|code|weights"
            r"|checkpoints|resources|artifacts)|code|implementation|weights|checkpoints)"
            r"(?:,? \w+){0,5} (?:is|are|will be|shall be) (?:made )?(?:publicly |freely |openly )?"
            r"(?:available|released|open ?sourced)\b",
            r"\bmak(?:e|es|ing) (?:[\w-]+,? ){0,12}(?:publicly|freely|openly) available\b",
            r"\breleased under (?:an? |the )?(?:Apache|MIT|open|permissive|CC)",
            r"\bavailable under (?:an? |the )?(?:[\w.-]+ ){0,2}licen[sc]e\b",
            r"\bprovide (?:public |open |free )?access to (?:the |our )?(?:code|models?|weights)\b",
            r"\bgithub\.com/",
            r"\bhuggingface\.co/",
        ),
    ),
    _tag(
        "interpretability",
        "meta",
        "Интерпретируемость",
        "Что происходит внутри моделей: механистическая интерпретация, зонды, SAE",
        aliases=(
            "интерпретируемость",
            "объяснимость",
            "explainability",
            "xai",
            "mechanistic interpretability",
            "механистическая интерпретируемость",
            "interpretable",
        ),
        patterns=(
            r"\binterpretab(?:ility|le)\b",
            r"\bmechanistic\b",
            r"\bexplainab(?:ility|le)\b",
            r"\bsparse autoencoders?\b",
            r"(?-i:\bSAEs?\b)",
            r"\b(?:activation|attention|path) patching\b",
            r"\b(?:activation )?steering vectors?\b",
            r"\blinear probes?\b",
            r"\blogit lens\b",
            r"\binternal (?:representations|mechanisms|activations)\b",
            r"\b(?:feature|attribution) (?:attribution|graphs?)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "hallucinations",
        "meta",
        "Галлюцинации",
        "Когда модель уверенно выдумывает факты: как это измерить и исправить",
        aliases=(
            "галлюцинации",
            "галлюцинация",
            "hallucination",
            "фактичность",
            "factuality",
        ),
        patterns=(
            r"\bhallucinat\w*",
            r"\bfactual(?:ity| errors?| accuracy| consistency| correctness)\b",
            r"\bconfabulat\w*",
            r"\bfaithfulness\b",
        ),
        min_hits=2,
    ),
    _tag(
        "security",
        "meta",
        "Безопасность",
        "Атаки на модели и защита от них: джейлбрейки, инъекции промптов, бэкдоры",
        aliases=(
            "безопасность",
            "jailbreak",
            "jailbreaks",
            "джейлбрейк",
            "джейлбрейки",
            "атаки",
            "attacks",
            "safety",
            "приватность",
            "privacy",
        ),
        patterns=(
            r"\bjailbr(?:eak|oken)\w*",
            r"\bprompt injections?\b",
            r"\badversarial (?:attacks?|examples?|robustness|prompts?|perturbations?)\b",
            r"\bbackdoors?\b",
            r"\b(?:data )?poisoning\b",
            r"\bred ?teaming\b",
            r"\bmembership inference\b",
            r"\b(?:privacy|security) (?:risks?|attacks?|vulnerabilit(?:y|ies)|threats?"
            r"|leakage)\b",
            r"\bdifferential privacy\b",
            r"\bwatermark(?:s|ing)?\b",
            r"\b(?:harmful|unsafe|malicious) (?:content|outputs?|requests?|prompts?|behaviou?rs?"
            r"|instructions?|queries)\b",
            r"\battack success rates?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "ethics",
        "meta",
        "Этика",
        "Предвзятость, справедливость и влияние ИИ на общество",
        aliases=(
            "этика",
            "bias",
            "biases",
            "предвзятость",
            "fairness",
            "справедливость",
            "responsible ai",
        ),
        patterns=(
            r"\bethic(?:s|al)\b",
            r"\b(?:social|societal|gender|racial|demographic|cultural|political) bias(?:es)?\b",
            r"\bfairness\b",
            r"\bstereotyp\w*",
            r"\bresponsible AI\b",
            r"\bsocietal (?:impacts?|risks?|harms?)\b",
            r"\bcopyright(?:ed)?\b",
        ),
        min_hits=2,
    ),
    _tag(
        "leakage",
        "meta",
        "Утечка тестов",
        "Загрязнение бенчмарков: тестовые данные попали в обучающую выборку",
        aliases=(
            "утечка",
            "утечки",
            "утечка данных",
            "contamination",
            "контаминация",
            "загрязнение",
            "data leakage",
            "data contamination",
        ),
        patterns=(
            r"\b(?:data|benchmark|test set|test data|training data) contamination\b",
            r"\bcontaminat(?:ed|ion)\b",
            r"\b(?:data|test set|test data|benchmark|label) leakage\b",
            r"\bleak(?:ed|age) (?:into|from) (?:the )?(?:pre ?)?training\b",
            r"\bmemori[sz](?:ation|ed) (?:of )?(?:the )?(?:benchmark|test)\b",
        ),
        min_hits=2,
    ),
    _tag(
        "agi",
        "meta",
        "Сильный ИИ (AGI)",
        "Общий искусственный интеллект: определения, прогнозы и путь к нему",
        aliases=(
            "аги",
            "сильный ии",
            "общий ии",
            "artificial general intelligence",
            "superintelligence",
            "сверхинтеллект",
        ),
        patterns=(
            r"(?-i:\bAGI\b)",
            r"\bartificial general intelligence\b",
            r"\bsuper ?intelligen(?:ce|t)\b",
            r"\bhuman level (?:intelligence|AI)\b",
        ),
        min_hits=3,
    ),
)

TAG_IDS: Final[frozenset[str]] = frozenset(tag.id for tag in TAGS)

_BY_ID: Final[dict[str, Tag]] = {tag.id: tag for tag in TAGS}

# Connector and filler words users put between tags ("rl и agents", "reasoning models").
_IGNORED_WORDS: Final[frozenset[str]] = frozenset(
    {
        "and",
        "or",
        "about",
        "model",
        "models",
        "paper",
        "papers",
        "tag",
        "tags",
        "и",
        "или",
        "а",
        "также",
        "про",
        "модель",
        "модели",
        "статьи",
        "тег",
        "теги",
    }
)

_HTML_TAG_RE: Final[re.Pattern[str]] = re.compile(r"<[^<>]{0,64}>")
_SEGMENT_SPLIT_RE: Final[re.Pattern[str]] = re.compile(r"[,;/|]+")
_EDGE_PUNCT_RE: Final[re.Pattern[str]] = re.compile(r"^[\W_]+|[\W_]+$")
_KEY_SEP_RE: Final[re.Pattern[str]] = re.compile(r"[\s\-_]+")


def _normalize_key(text: str) -> str:
    """Fold a tag word for lookup: casefold, ё→е, hyphens/underscores/spaces → one space."""
    folded = text.casefold().replace("ё", "е")
    return _KEY_SEP_RE.sub(" ", folded).strip()


def _build_index() -> dict[str, str]:
    """Map every normalized id, alias and their joined (spaceless) forms to a tag id."""
    index: dict[str, str] = {}
    for tag in TAGS:
        for word in (tag.id, *tag.aliases):
            key = _normalize_key(word)
            index.setdefault(key, tag.id)
            index.setdefault(key.replace(" ", ""), tag.id)
    return index


_INDEX: Final[dict[str, str]] = _build_index()
_SUGGESTION_KEYS: Final[tuple[str, ...]] = tuple(_INDEX)
_MAX_PHRASE_WORDS: Final[int] = max(key.count(" ") + 1 for key in _INDEX)


def get_tag(tag_id: str) -> Tag | None:
    """Return the tag with exactly this id, or None."""
    return _BY_ID.get(tag_id)


def popular_tags() -> tuple[Tag, ...]:
    """Return the tags offered as buttons on /start, in display order."""
    return tuple(tag for tag in TAGS if tag.popular)


def tags_by_family() -> dict[Family, tuple[Tag, ...]]:
    """Group all tags by family, families and tags in display order."""
    return {family: tuple(tag for tag in TAGS if tag.family == family) for family in FAMILIES}


def hashtag(tag_id: str) -> str:
    """Render a tag id as a Telegram hashtag, e.g. "#mllm"."""
    return f"#{tag_id}"


def _clean_text(text: str) -> str:
    """Drop HTML tags and invisible format characters, turn control characters into spaces."""
    text = _HTML_TAG_RE.sub(" ", text[:MAX_INPUT_CHARS])
    text = unicodedata.normalize("NFKC", text)
    chars: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        chars.append(" " if category in {"Cc", "Cs", "Co", "Zl", "Zp"} else char)
    return "".join(chars)


def _suggest(key: str) -> str | None:
    """Return the id of the closest tag id or alias to key, if any is close enough.

    Candidates must start with the same character: without that, short or unrelated words
    get silly guesses ("ai" → "xai", "efficiency" → "science").
    """
    cutoff = SUGGESTION_CUTOFF if len(key) > 3 else SHORT_SUGGESTION_CUTOFF
    for match in difflib.get_close_matches(key, _SUGGESTION_KEYS, n=5, cutoff=cutoff):
        if match[0] == key[0]:
            return _INDEX[match]
    return None


def _segments(text: str) -> list[list[str]]:
    """Split cleaned text into comma-separated segments of punctuation-stripped tokens."""
    segments: list[list[str]] = []
    budget = MAX_TOKENS
    for part in _SEGMENT_SPLIT_RE.split(text):
        tokens: list[str] = []
        for raw in part.split():
            if budget <= 0:
                break
            budget -= 1
            token = _EDGE_PUNCT_RE.sub("", raw)
            if token:
                tokens.append(token)
        if tokens:
            segments.append(tokens)
        if budget <= 0:
            break
    return segments


def _phrase_at(keys: list[str | None], start: int) -> tuple[str, int] | None:
    """Find the longest multi-word alias starting at keys[start]: (tag id, word count).

    A phrase wins over its words: "synthetic data" is #synthetic, not #synthetic + #data.
    """
    longest = min(_MAX_PHRASE_WORDS, len(keys) - start)
    for size in range(longest, 1, -1):
        parts = keys[start : start + size]
        words = [part for part in parts if part is not None]
        if len(words) != size:
            continue
        phrase = " ".join(words)
        tag_id = _INDEX.get(phrase) or _INDEX.get(phrase.replace(" ", ""))
        if tag_id is not None:
            return tag_id, size
    return None


def _resolve(text: str) -> TagResolution:
    """Do the work of :func:`resolve_tags`; may assume text is a str."""
    found: dict[str, None] = {}
    unknown: dict[str, UnknownTag] = {}
    for tokens in _segments(_clean_text(text)):
        # None marks a token too long to be a tag.
        keys = [
            _normalize_key(token) if len(token) <= MAX_TOKEN_CHARS else None for token in tokens
        ]
        i = 0
        while i < len(tokens):
            phrase = _phrase_at(keys, i)
            if phrase is not None:
                found.setdefault(phrase[0], None)
                i += phrase[1]
                continue
            token, key = tokens[i], keys[i]
            i += 1
            if key is None:
                raw = token[:MAX_TOKEN_CHARS] + "…"
                unknown.setdefault(raw.casefold(), UnknownTag(raw=raw, suggestion=None))
                continue
            tag_id = _INDEX.get(key) or _INDEX.get(key.replace(" ", ""))
            parts = key.split()
            if tag_id is not None:
                found.setdefault(tag_id, None)
            elif len(parts) > 1 and all(part in _INDEX for part in parts):
                # "llm-agents", "rl_rlhf": a glued list of tags.
                for part in parts:
                    found.setdefault(_INDEX[part], None)
            elif key not in _IGNORED_WORDS and key not in unknown:
                unknown[key] = UnknownTag(raw=token, suggestion=_suggest(key))
    return TagResolution(tags=tuple(found), unknown=tuple(unknown.values()))


def resolve_tags(text: str) -> TagResolution:
    """Parse user-typed tags ("mllm, #MoE смесь экспертов") into tag ids; never raises."""
    if not isinstance(text, str):
        return TagResolution(tags=(), unknown=())
    try:
        return _resolve(text)
    except Exception:  # pragma: no cover - defensive: user input must never crash a handler
        return TagResolution(tags=(), unknown=())
