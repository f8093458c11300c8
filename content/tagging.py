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

import functools
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

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


# ---- prefilter: skip patterns that cannot match --------------------------------------------
#
# Running all ~300 patterns over a 1,500-character abstract costs ~8 ms per paper, yet nearly
# all of them need a word ("splatting", "agent") that the abstract does not contain.  So each
# pattern's parse tree is read once, on first use, for what every match must contain, and a
# text is scanned only by the patterns whose needs it meets.  A string that a match holds as a
# whole token (a run of [a-z0-9] in the text's fold, as "segmentation" in
# r"\bimage segmentation\b") is looked up in the text's set of tokens, others are searched as
# substrings.  A pattern that does run is tried only where its match may start, when those
# places are few.  Anything in a tree that is not understood guarantees nothing, so a pattern
# is skipped only where it could not have matched, and matches are found exactly as
# finditer() finds them.

# Non-ASCII letters that re.IGNORECASE matches to ASCII ones but str.lower() does not turn into
# them: "İ" lowers to "i̇" (two characters), dotless "ı" and long "ſ" stay as they are.  The
# Kelvin sign lowers to "k" on its own.  tests/test_tagging.py checks this exhaustively.
_ODD_CASES: Final[dict[int, str]] = {0x130: "i", 0x131: "i", 0x17F: "s"}
_ODD_CASES_RE: Final[re.Pattern[str]] = re.compile("[\u0130\u0131\u017f]")
_TOKEN_RE: Final[re.Pattern[str]] = re.compile(r"[a-z0-9]+")
# ASCII mode has other word boundaries and case rules; such a pattern always runs.
_INLINE_ASCII_RE: Final[re.Pattern[str]] = re.compile(r"\(\?[a-zA-Z-]*a")

_MAX_STRINGS: Final[int] = 32  # Bounds the strings a node is known to match.
_MAX_CLASS: Final[int] = 8  # [sz] is a small set of strings; [a-z] is not.
_MAX_NEEDS: Final[int] = 3  # Checking more rarely rules more out.
# Trying a pattern at each place where a match may start beats a scan of the whole text only
# when there are few such places.
_MAX_PLACES: Final[int] = 24

_EMPTY: Final[frozenset[str]] = frozenset({""})
# Stands, in the strings a node can match, for the separators that " ?" may put between two
# words: "multi ?modal" matches "multimodal" and "multi" _GAP "modal".
_GAP: Final[str] = "\x00"
_OPTIONAL_GAP: Final[frozenset[str]] = frozenset({"", _GAP})
# Escapes that match no letter or digit, even case-insensitively: \s and \W.
_SEPARATOR_CATEGORIES: Final[frozenset[str]] = frozenset({"CATEGORY_SPACE", "CATEGORY_NOT_WORD"})

_Node = tuple[str, Any]
"""A node of a pattern's parse tree, frozen by :func:`_freeze`: (operator name, argument)."""
_Nodes = tuple[_Node, ...]


def _fold(text: str) -> str:
    """Lower-case text so that the ASCII literals of any pattern match are substrings of it."""
    if not text.isascii() and _ODD_CASES_RE.search(text):
        text = text.translate(_ODD_CASES)
    return text.lower()


def _freeze(items: Iterable[tuple[object, Any]]) -> _Nodes:
    """Copy a re._parser tree into hashable tuples, keeping what the analysis reads."""
    return tuple(_freeze_node(str(op), av) for op, av in items)


def _freeze_node(op: str, av: Any) -> _Node:
    """Copy one node; an operator the analysis does not know becomes an opaque "?"."""
    if op in {"LITERAL", "AT"}:
        return op, av if op == "LITERAL" else str(av)
    if op == "IN":
        return op, tuple(
            (str(item), arg if str(item) != "CATEGORY" else str(arg)) for item, arg in av
        )
    if op in {"ASSERT", "ASSERT_NOT"}:
        return "ASSERT", None  # What a lookaround looks at does not matter: it is zero-width.
    if op == "SUBPATTERN":
        return op, _freeze(av[3])
    if op == "ATOMIC_GROUP":
        return "SUBPATTERN", _freeze(av)
    if op == "BRANCH":
        return op, tuple(_freeze(alternative) for alternative in av[1])
    if op in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
        return "REPEAT", (av[0], av[1], _freeze(av[2]))
    return "?", None


@dataclass(frozen=True, slots=True)
class _Need:
    """A match needs one of: a token equal to one of `tokens`, or one of `substrings`."""

    tokens: frozenset[str]
    substrings: tuple[str, ...]

    def rank(self) -> tuple[int, bool, int]:
        """How likely the need is to rule a pattern out: long strings, tokens, few strings."""
        strings = (*self.tokens, *self.substrings)
        return min(map(len, strings)), not self.substrings, -len(strings)


def _need(tokens: Iterable[str], substrings: Iterable[str]) -> _Need:
    """Build a need, dropping strings implied by a shorter substring."""
    kept: list[str] = []
    for string in sorted(set(substrings), key=len):
        if not any(shorter in string for shorter in kept):
            kept.append(string)
    whole = frozenset(token for token in tokens if not any(s in token for s in kept))
    return _Need(whole, tuple(kept))


@dataclass(frozen=True, slots=True)
class _Edges:
    r"""How a node meets token edges, whatever text it matches.

    "Behind" holds at position p when p starts the text, or the fold's character before p is
    no letter or digit, or text[p] is no word character (so \b gives it); "ahead" likewise,
    looking forward.  After a node, behind = sets_behind or (keeps_behind and behind held
    before it); before a node, ahead = sets_ahead or (keeps_ahead and ahead held after it).
    """

    sets_behind: bool
    keeps_behind: bool
    sets_ahead: bool
    keeps_ahead: bool


_OPAQUE: Final[_Edges] = _Edges(False, False, False, False)
_ZERO_WIDTH: Final[_Edges] = _Edges(False, True, False, True)
_BOUNDARY: Final[_Edges] = _Edges(True, True, True, True)
_SEPARATOR: Final[_Edges] = _Edges(True, False, True, False)


@functools.cache
def _edges(node: _Node) -> _Edges:
    """Edges of one node."""
    op, av = node
    if op == "AT":
        return _BOUNDARY if av == "AT_BOUNDARY" else _ZERO_WIDTH
    if op == "ASSERT":
        return _ZERO_WIDTH
    if op == "LITERAL":
        return _SEPARATOR if _is_separator_char(av) else _OPAQUE
    if op == "IN":
        return _SEPARATOR if all(map(_is_separator_item, av)) else _OPAQUE
    if op == "SUBPATTERN":
        return _sequence_edges(av)
    if op == "BRANCH":
        alternatives = [_sequence_edges(alternative) for alternative in av]
        return _Edges(
            all(e.sets_behind for e in alternatives),
            all(e.sets_behind or e.keeps_behind for e in alternatives),
            all(e.sets_ahead for e in alternatives),
            all(e.sets_ahead or e.keeps_ahead for e in alternatives),
        )
    if op == "REPEAT":
        low, _, inner = av
        edges = _sequence_edges(inner)
        if low >= 1:
            return edges
        # Zero repetitions leave the position, and what holds there, as it was.
        return _Edges(
            False,
            edges.sets_behind or edges.keeps_behind,
            False,
            edges.sets_ahead or edges.keeps_ahead,
        )
    return _OPAQUE


@functools.cache
def _sequence_edges(nodes: _Nodes) -> _Edges:
    """Edges of nodes matched one after another."""
    sets_behind, keeps_behind = False, True
    for node in nodes:
        edges = _edges(node)
        sets_behind = edges.sets_behind or (edges.keeps_behind and sets_behind)
        keeps_behind = edges.keeps_behind and keeps_behind
    sets_ahead, keeps_ahead = False, True
    for node in reversed(nodes):
        edges = _edges(node)
        sets_ahead = edges.sets_ahead or (edges.keeps_ahead and sets_ahead)
        keeps_ahead = edges.keeps_ahead and keeps_ahead
    return _Edges(sets_behind, keeps_behind, sets_ahead, keeps_ahead)


def _is_separator_char(code: int) -> bool:
    """Tell whether a literal matches only itself, and that is no letter or digit."""
    char = chr(code)
    return char.isascii() and not char.isalnum()


def _is_separator_item(item: tuple[str, Any]) -> bool:
    """Tell whether an item of a character class matches no letter or digit."""
    op, arg = item
    if op == "LITERAL":
        return _is_separator_char(arg)
    return op == "CATEGORY" and arg in _SEPARATOR_CATEGORIES


_Facts = tuple[frozenset[str] | None, tuple[_Need, ...]]
"""What a node guarantees: every string it can match (None: unknown or too many), and needs."""


@functools.cache
def _facts(node: _Node, behind: bool, ahead: bool) -> _Facts:
    """Facts of one node, given whether token edges surely hold before and after it."""
    op, av = node
    if op == "LITERAL":
        char = chr(av)
        # Non-ASCII case folding has too many special cases to bet on.
        return (frozenset({char.lower()}) if char.isascii() and char != _GAP else None), ()
    if op == "IN":
        return _class_strings(av), ()
    if op in {"AT", "ASSERT"}:  # \b and lookarounds consume nothing and need nothing.
        return _EMPTY, ()
    if op == "SUBPATTERN":
        return _sequence_facts(av, behind, ahead)
    if op == "BRANCH":
        return _branch_facts(av, behind, ahead)
    if op == "REPEAT":
        low, high, inner = av
        if low == 0 and high >= 1 and len(inner) == 1 and _edges(inner[0]) == _SEPARATOR:
            return _OPTIONAL_GAP, ()  # " ?"
        if low == high == 1:
            return _sequence_facts(inner, behind, ahead)
        exact, needs = _sequence_facts(inner, False, False)
        if low >= 1:  # One repetition at least: its needs hold.
            return None, needs
        return (exact | _EMPTY if exact is not None and high == 1 else None), ()
    return None, ()


def _class_strings(items: tuple[tuple[str, Any], ...]) -> frozenset[str] | None:
    """The strings a small ASCII character class such as [sz] matches; None for others."""
    chars: set[str] = set()
    for op, arg in items:
        if op == "LITERAL":
            chars.add(chr(arg))
        elif op == "RANGE" and arg[1] - arg[0] < _MAX_CLASS:
            chars.update(chr(code) for code in range(arg[0], arg[1] + 1))
        else:  # NEGATE, CATEGORY (\s, \w), big ranges
            return None
    if len(chars) > _MAX_CLASS or not all(char.isascii() and char != _GAP for char in chars):
        return None
    return frozenset(char.lower() for char in chars)


def _branch_facts(alternatives: tuple[_Nodes, ...], behind: bool, ahead: bool) -> _Facts:
    """Facts of a|b|c: the branch needs something only if every alternative does."""
    exact: frozenset[str] | None = frozenset()
    tokens: set[str] = set()
    substrings: set[str] = set()
    needed = True
    for alternative in alternatives:
        alt_exact, alt_needs = _sequence_facts(alternative, behind, ahead)
        exact = None if exact is None or alt_exact is None else exact | alt_exact
        if alt_needs:
            best = max(alt_needs, key=_Need.rank)
            tokens.update(best.tokens)
            substrings.update(best.substrings)
        else:
            needed = False
    if exact is not None and len(exact) > _MAX_STRINGS:
        exact = None
    if not needed or not 0 < len(tokens) + len(substrings) <= _MAX_STRINGS:
        return exact, ()
    return exact, (_need(tokens, substrings),)


@functools.cache
def _sequence_facts(nodes: _Nodes, behind: bool, ahead: bool) -> _Facts:
    """Facts of nodes matched one after another: runs of known strings become needs."""
    # behind_at[i] / ahead_at[i]: whether the edge surely holds at the position before node i.
    behind_at = [behind]
    for node in nodes:
        edges = _edges(node)
        behind_at.append(edges.sets_behind or (edges.keeps_behind and behind_at[-1]))
    ahead_at = [ahead]
    for node in reversed(nodes):
        edges = _edges(node)
        ahead_at.append(edges.sets_ahead or (edges.keeps_ahead and ahead_at[-1]))
    ahead_at.reverse()

    needs: list[_Need] = []
    whole: frozenset[str] | None = _EMPTY
    # The run: the strings of consecutive known nodes; start and end: the positions before its
    # first and after its last node that consumes text.
    run: frozenset[str] | None = _EMPTY
    start = end = 0
    for index, node in enumerate(nodes):
        exact, node_needs = _facts(node, behind_at[index], ahead_at[index + 1])
        needs.extend(node_needs)
        joined = None
        if exact is not None and run is not None and len(run) * len(exact) <= _MAX_STRINGS:
            joined = frozenset(a + b for a in run for b in exact)
        if joined is None:
            needs.extend(_run_needs(run, behind_at[start], ahead_at[end]))
            whole = None
            run, start = exact, index
        else:
            if run == _EMPTY:
                start = index
            run = joined
        if exact != _EMPTY:
            end = index + 1
        if whole is not None:
            whole = run
    needs.extend(_run_needs(run, behind_at[start], ahead_at[end]))
    return whole, tuple(needs)


def _run_needs(run: frozenset[str] | None, behind: bool, ahead: bool) -> tuple[_Need, ...]:
    """The need of a run of known strings, if any: for each string, its most telling part."""
    if run is None:
        return ()
    tokens: set[str] = set()
    substrings: set[str] = set()
    for string in run:
        # Parts between gaps are whole tokens; the first and last ones if edges hold there.
        parts = string.split(_GAP)
        last = len(parts) - 1
        best: tuple[bool, int, str] | None = None
        for number, part in enumerate(parts):
            whole = (
                part.isascii()
                and part.isalnum()
                and (behind or number > 0)
                and (ahead or number < last)
            )
            if part and (best is None or (whole, len(part)) >= best[:2]):
                best = (whole, len(part), part)
        if best is None:  # The string may be empty: nothing is needed.
            return ()
        (tokens if best[0] else substrings).add(best[2])
    return (_need(tokens, substrings),)


@functools.cache
def _starts(nodes: _Nodes) -> frozenset[str] | None:
    """Strings every match of nodes in a row starts with, in the fold; None when unknown."""
    run = _EMPTY
    for index, node in enumerate(nodes):
        op, av = node
        exact, _ = _facts(node, False, False)
        if exact is not None and len(run) * len(exact) <= _MAX_STRINGS:
            run = frozenset(a + b for a in run for b in exact)
            continue
        if run != _EMPTY:  # Strings it starts with are known already.
            break
        if op == "SUBPATTERN":
            return _starts(av)
        if op == "BRANCH":
            starts: frozenset[str] | None = frozenset()
            for alternative in av:
                starts = _union(starts, _starts(alternative))
            return starts
        if op == "REPEAT" and av[0] >= 1:
            return _starts(av[2])
        if op == "REPEAT":  # x*: a match starts with x or with what follows it.
            return _union(_starts(av[2]), _starts(nodes[index + 1 :]))
        return None
    # A match starts with the part of a string before its first gap.
    starts = frozenset(string.split(_GAP)[0] for string in run)
    return None if "" in starts else starts


def _union(left: frozenset[str] | None, right: frozenset[str] | None) -> frozenset[str] | None:
    """Strings either side may start with; None if either is unknown or they are too many."""
    if left is None or right is None or len(left) + len(right) > _MAX_STRINGS:
        return None
    return left | right


def _shortest(starts: frozenset[str] | None) -> tuple[str, ...]:
    """The places to try: a string that starts with another adds none."""
    kept: list[str] = []
    for string in sorted(starts or (), key=len):
        if not any(string.startswith(shorter) for shorter in kept):
            kept.append(string)
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class _Probe:
    """A tag pattern, what a text needs for it to match, and what its matches start with."""

    pattern: re.Pattern[str]
    needs: tuple[_Need, ...] = ()
    starts: tuple[str, ...] = ()


def _probe(pattern: re.Pattern[str]) -> _Probe:
    """Read a pattern's parse tree for its needs (first: the one to index) and its starts."""
    if pattern.flags & (re.ASCII | re.LOCALE) or _INLINE_ASCII_RE.search(pattern.pattern):
        return _Probe(pattern)
    try:
        # A private module: should a Python release change it, patterns just run unfiltered.
        parser = importlib.import_module("re._parser")
        nodes = _freeze(parser.parse(pattern.pattern, pattern.flags))
    except Exception:
        return _Probe(pattern)
    ranked = sorted(set(_sequence_facts(nodes, False, False)[1]), key=_Need.rank, reverse=True)
    # The first need is looked up in an index, where one of tokens only costs nothing.
    ranked.sort(key=lambda need: bool(need.substrings))
    return _Probe(pattern, tuple(ranked[:_MAX_NEEDS]), _shortest(_starts(nodes)))


@dataclass(frozen=True, slots=True)
class _Index:
    """The probes of the taxonomy's tags, indexed by their first need."""

    patterns: dict[str, tuple[re.Pattern[str], ...]]  # tag id → what its probes were made of
    probes: tuple[_Probe, ...]  # numbered in taxonomy and pattern order
    owner: tuple[str, ...]  # probe number → tag id
    unneeding: frozenset[int]  # probes that always run
    by_token: dict[str, tuple[int, ...]]  # token → probes whose first need it meets
    tokens: frozenset[str]
    by_substring: tuple[tuple[int, tuple[str, ...]], ...]  # first needs holding substrings


@functools.cache
def _index() -> _Index:
    """Index the taxonomy's probes, on first use: it parses ~300 patterns."""
    numbered = [(tag.id, _probe(pattern)) for tag in TAGS for pattern in tag.patterns]
    by_token: dict[str, list[int]] = {}
    by_substring: list[tuple[int, tuple[str, ...]]] = []
    for number, (_, probe) in enumerate(numbered):
        if probe.needs:
            for token in probe.needs[0].tokens:
                by_token.setdefault(token, []).append(number)
            if probe.needs[0].substrings:
                by_substring.append((number, probe.needs[0].substrings))
    return _Index(
        patterns={tag.id: tag.patterns for tag in TAGS},
        probes=tuple(probe for _, probe in numbered),
        owner=tuple(tag_id for tag_id, _ in numbered),
        unneeding=frozenset(n for n, (_, probe) in enumerate(numbered) if not probe.needs),
        by_token={token: tuple(numbers) for token, numbers in by_token.items()},
        tokens=frozenset(by_token),
        by_substring=tuple(by_substring),
    )


class _Text:
    """A text to scan, with its fold and the fold's tokens, to test needs against."""

    __slots__ = ("_candidates", "_folded", "_tokens", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded = _fold(text)
        self._tokens = frozenset(_TOKEN_RE.findall(self._folded))
        self._candidates: dict[str, list[_Probe]] | None = None

    def has(self, need: _Need) -> bool:
        """Tell whether the text meets the need (a token or a substring of it is there)."""
        if not self._tokens.isdisjoint(need.tokens):
            return True
        folded = self._folded
        return any(string in folded for string in need.substrings)

    def matches(self, tag: Tag) -> list[re.Match[str]]:
        """The matches of the tag's patterns, pattern by pattern, as running them all finds."""
        index = _index()
        if index.patterns.get(tag.id) is tag.patterns:
            candidates = self._candidates
            if candidates is None:
                candidates = self._candidates = self._find_candidates(index)
            probes = candidates.get(tag.id)
            if probes is None:  # The usual case: no pattern of the tag can match.
                return []
            chosen = [probe for probe in probes if all(map(self.has, probe.needs[1:]))]
        else:  # Not a taxonomy tag: tests build some.
            probes = [_probe(pattern) for pattern in tag.patterns]
            chosen = [probe for probe in probes if all(map(self.has, probe.needs))]
        found: list[re.Match[str]] = []
        for probe in chosen:
            found.extend(self._finditer(probe))
        return found

    def _find_candidates(self, index: _Index) -> dict[str, list[_Probe]]:
        """Taxonomy probes whose first need the text meets, by tag id, in pattern order."""
        numbers = set(index.unneeding)
        for token in self._tokens & index.tokens:
            numbers.update(index.by_token[token])
        folded = self._folded
        for number, substrings in index.by_substring:
            if number not in numbers and any(string in folded for string in substrings):
                numbers.add(number)
        candidates: dict[str, list[_Probe]] = {}
        for number in sorted(numbers):
            candidates.setdefault(index.owner[number], []).append(index.probes[number])
        return candidates

    def _finditer(self, probe: _Probe) -> Iterable[re.Match[str]]:
        """What probe.pattern.finditer(text) finds, found faster where a match may start."""
        places = self._places(probe.starts) if probe.starts else None
        if places is None:
            return probe.pattern.finditer(self.text)
        # finditer's leftmost, non-overlapping matches (none is empty: they start with a
        # string).  match() at a place sees the text before it, as lookbehinds and \b need.
        found: list[re.Match[str]] = []
        end = 0
        for place in places:
            if place >= end:
                match = probe.pattern.match(self.text, place)
                if match is not None:
                    found.append(match)
                    end = match.end()
        return found

    def _places(self, starts: tuple[str, ...]) -> list[int] | None:
        """Where in the text the strings occur, in order; None if there are too many."""
        folded = self._folded
        places: list[int] = []
        for string in starts:
            place = folded.find(string)
            while place >= 0:
                if len(places) == _MAX_PLACES:
                    return None
                places.append(place)
                place = folded.find(string, place + 1)
        places.sort()
        return places


def _mentions(tag: Tag, text: str | _Text) -> list[str]:
    """Return the distinct mentions Tag.hits counts, as matched text (overlaps merged)."""
    scan = text if isinstance(text, _Text) else _Text(text)
    matches = scan.matches(tag)
    if not matches:
        return []
    spans = sorted(match.span() for match in matches)
    found: list[str] = []
    end = -1
    for span_start, span_end in spans:
        if span_start >= end:
            found.append(scan.text[span_start:span_end])
        end = max(end, span_end)
    return found


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
    scan = _Text(stripped)
    for tag in TAGS:
        if tag.id in strong:
            continue
        matches = scan.matches(tag)
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
    title_scan, abstract_scan = _Text(title), _Text(abstract)
    for tag in TAGS:
        in_title = _mentions(tag, title_scan)
        in_abstract = _mentions(tag, abstract_scan)
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
