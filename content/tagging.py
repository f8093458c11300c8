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
3. **The LLM's choice** (``llm_tags``), filtered to the taxonomy's ids: trusted on its own for
   specific, topical tags, which an LLM judges well from an abstract; worth one extra hit for
   the :data:`BROAD_TAGS` it is known to over-assign (an hfday.ru-style LLM put #benchmark and
   #optimization on a paper that merely reports benchmark scores and speeds up training).
4. **Outside evidence only tops up.**  For a broad tag, keywords and the LLM count as hits but
   need at least one hit of the tag's own patterns in the text: they may break a tie, never
   create a tag from nothing.  ``agi`` comes from the text rules only.

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

import re
from collections.abc import Iterable, Mapping
from typing import Final

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


def _clean_llm_tags(llm_tags: Iterable[object]) -> set[str]:
    """Keep the LLM's choices that are taxonomy ids ("#MoE" → "moe"); drop everything else."""
    chosen: set[str] = set()
    for raw in llm_tags:
        if not isinstance(raw, str):
            continue
        tag_id = raw.strip().lstrip("#").strip().casefold()
        if tag_id in TAG_IDS:
            chosen.add(tag_id)
    return chosen


def _quote(mentions: list[str]) -> str:
    """Render matched mentions for explain(), at most a few of them."""
    shown = ", ".join(repr(m) for m in mentions[:4])
    return shown + (", …" if len(mentions) > 4 else "")


def _evidence(paper: Paper, llm_tags: Iterable[str]) -> dict[str, list[str]]:
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
    chosen = _clean_llm_tags(llm_tags)

    reasons: dict[str, list[str]] = {}
    title_llm = False
    for tag in TAGS:
        in_title = tag.mentions(title)
        in_abstract = tag.mentions(abstract)
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


def tag_paper(paper: Paper, *, llm_tags: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the paper's tag ids, deduplicated, in taxonomy display order."""
    return tuple(_evidence(paper, llm_tags))


def explain(paper: Paper, *, llm_tags: Iterable[str] = ()) -> dict[str, list[str]]:
    """Return each tag tag_paper gives, with the rules, keywords or votes that gave it."""
    return _evidence(paper, llm_tags)
