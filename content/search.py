r"""Search text: how papers and queries become stemmed index terms, the same on every database.

Both the index and the query go through :func:`terms`: words are lower-cased, ``ё`` becomes
``е``, Cyrillic words get the Russian Snowball stemmer and Latin ones the English stemmer, and
words with digits or other scripts stay as they are.  A compound such as ``InternVL2-8B`` or
``Awaker2.5-VL`` is indexed both joined (``internvl28b``) and by its parts, so the model name,
its parts and the same name written with spaces all find the paper.

Every term is made of letters and digits only (``[^\W_]+``), which is what makes the query
safe to hand to FTS5 or ``to_tsquery``: nothing a user types can become an operator.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import Stemmer

from content import taxonomy

MAX_QUERY_CHARS: Final[int] = 256
"""A query is cut to this many characters before it is read."""

MAX_QUERY_TERMS: Final[int] = 32
"""At most this many words of a query are searched for."""

MAX_TERM_CHARS: Final[int] = 64
"""Longer "words" (hashes, base64, runs of one letter) are neither indexed nor searched."""

# A word, or a compound of words joined by "-" or "." ("InternVL2-8B", "Awaker2.5-VL").
_WORD: Final = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")
_HASHTAG: Final = re.compile(r"#([^\W_]+(?:[-_][^\W_]+)*)")
_PART: Final = re.compile(r"[^\W_]+")
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_CYRILLIC: Final = re.compile(r"[а-я]+")
_LATIN: Final = re.compile(r"[a-z]+")

# Words too common to tell papers apart; left out of the index and of queries, so a query
# "модель для видео" is not required to contain "для".
STOPWORDS: Final[frozenset[str]] = frozenset(
    """
    a an and are as at be by can do for from has have how in into is it its of on or our
    over s that the their these this to via vs we what when which with without
    а без более в во вот всё все вы для до его её если есть же за и из или их к как ко
    когда ли между мы на над не нет но о об от по под при про с со так также то только
    у что чтобы это эта этот эти
    """.split()  # noqa: SIM905 - a word list reads better as text
)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    # One Snowball stemmer per language, built once: the library is a C extension whose
    # objects keep a word cache of their own.
    return Stemmer.Stemmer("russian"), Stemmer.Stemmer("english")


def _normalize(text: str) -> str:
    """NFKC, case-folded, ``ё`` read as ``е``: "Ё" and "е", "ﬁ" and "fi" are the same word."""
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


def stem(word: str) -> str:
    """The index form of one normalised word: stemmed by its script, else itself."""
    russian, english = _stemmers()
    if _CYRILLIC.fullmatch(word):
        return str(russian.stemWord(word))
    if _LATIN.fullmatch(word):
        return str(english.stemWord(word))
    return word


def _usable(word: str) -> bool:
    return len(word) <= MAX_TERM_CHARS and word not in STOPWORDS


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a query: any of ``alternatives`` matches, each an AND of index terms.

    A plain word has one alternative of one term; a compound such as ``internvl2-8b`` has
    its joined form and the AND of its parts.
    """

    alternatives: tuple[tuple[str, ...], ...]


def _word_terms(word: str) -> Term | None:
    """The index terms of one normalised word or compound."""
    parts = [part for part in _PART.findall(word) if len(part) <= MAX_TERM_CHARS]
    if not parts:
        return None
    if len(parts) == 1:
        return Term(((stem(parts[0]),),)) if _usable(parts[0]) else None
    stems = tuple(dict.fromkeys(stem(part) for part in parts if _usable(part)))
    joined = "".join(parts)
    alternatives: list[tuple[str, ...]] = []
    if len(joined) <= MAX_TERM_CHARS:
        alternatives.append((joined,))
    if stems:
        alternatives.append(stems)
    return Term(tuple(alternatives)) if alternatives else None


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, with a compound's joined form before its parts.

    A word of letters and digits also yields its runs of letters, so "Qwen" finds "Qwen2.5-VL"
    and "InternVL" finds "InternVL2-8B".
    """
    found: list[str] = []
    for word in _WORD.findall(_normalize(text)):
        found.extend(_index_terms(word))
    return found


@lru_cache(maxsize=200_000)
def _index_terms(word: str) -> tuple[str, ...]:
    # Cached per word: a catalogue repeats the same few ten thousand words, and the cache
    # makes indexing a paper about ten times faster.
    term = _word_terms(word)
    if term is None:
        return ()
    found = [t for alternative in term.alternatives for t in alternative]
    for part in _PART.findall(word):
        if not part.isalpha() and not part.isdigit():
            found.extend(
                stem(run) for run in _LETTERS.findall(part) if len(run) > 1 and _usable(run)
            )
    return tuple(found)


def index_text(*texts: str | None) -> str:
    """Several texts as one space-separated string of index terms."""
    return " ".join(term for text in texts if text for term in terms(text))


def tag_term(tag_id: str) -> str:
    """The index term that marks a paper's tag, so "#tag" filters inside the full-text index.

    It starts with a digit, so no stemmer touches it and no ordinary word is spelled so.
    """
    return "0tag" + "".join(char for char in tag_id.lower() if char.isalnum())


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """What the index holds of one paper: a term string per weighted field."""

    title: str  # the English and the Russian title: weighted highest
    summary: str  # the Russian summary
    tags: str  # tag ids and their Russian names
    abstract: str  # the English abstract: weighted lowest


def document(
    *,
    title: str,
    title_ru: str | None,
    summary_ru: str | None,
    abstract: str,
    tags: Iterable[str],
) -> SearchDocument:
    """The index document of a paper."""
    tag_texts: list[str] = []
    for tag_id in sorted(set(tags)):
        tag = taxonomy.get_tag(tag_id)
        # The Russian name bridges languages: #moe is "Смесь экспертов (MoE)".
        tag_texts += [tag_id, tag.name_ru] if tag else [tag_id]
    return SearchDocument(
        title=index_text(title, title_ru),
        summary=index_text(summary_ru),
        tags=" ".join([index_text(*tag_texts), *(tag_term(t) for t in sorted(set(tags)))]),
        abstract=index_text(abstract),
    )


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: words to match and tags to filter by."""

    text: str  # the query as read: cut, on one line
    terms: tuple[Term, ...]
    tags: tuple[str, ...]  # known tag ids from "#tag" words; a paper must have them all

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to search for (only stopwords, emoji or punctuation)."""
        return not self.terms and not self.tags


def clean_query(raw: str) -> str:
    """The query as the bot reads and echoes it: at most 256 characters, on one line."""
    text = "".join(
        " " if unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"} else char
        for char in raw[: MAX_QUERY_CHARS * 2]
    )
    return " ".join(text.split())[:MAX_QUERY_CHARS].strip()


def parse_query(raw: str) -> SearchQuery:
    """Read a user's query; nothing in it is ever passed to the database as syntax."""
    text = clean_query(raw)
    tags: list[str] = []

    def take_tag(match: re.Match[str]) -> str:
        resolved = taxonomy.resolve_tags(match.group(1)).tags
        if len(resolved) == 1:
            tags.append(resolved[0])
            return " "
        # Not a tag of ours ("#internvl2"): search for the word itself.
        return f" {match.group(1)} "

    rest = _HASHTAG.sub(take_tag, _normalize(text))
    found: list[Term] = []
    for match in _WORD.finditer(rest):
        term = _word_terms(match.group())
        if term is not None and term not in found:
            found.append(term)
        if len(found) >= MAX_QUERY_TERMS:
            break
    return SearchQuery(text=text, terms=tuple(found), tags=tuple(dict.fromkeys(tags)))


def all_terms(query: SearchQuery) -> Sequence[str]:
    """Every index term a query mentions, for tests and diagnostics."""
    return [term for word in query.terms for alt in word.alternatives for term in alt]


def names_something(query: SearchQuery) -> bool:
    """Whether the query names a model or a method: a word with digits, or a compound.

    ``InternVL2-8B`` or ``Qwen2.5`` is looked for as written: the papers that contain it come
    before those that are merely about something similar.
    """
    return any(
        len(term.alternatives) > 1
        or any(char.isdigit() for alt in term.alternatives for t in alt for char in t)
        for term in query.terms
    )


RRF_K: Final[int] = 60
"""Reciprocal-rank fusion's constant: the usual one, which flattens the top ranks' lead."""

RELAXED_WEIGHT: Final[float] = 0.1
"""Weight of papers with only some of the query's words, against 1 for semantic neighbours.

Such a match is weak evidence: a Russian query over English papers often shares one common
word ("модели") with a tag's Russian name. On the 30 Russian queries of
tests/test_hybrid_search.py, the right paper is in the top 3 for 17 at 0.5, 21 at 0.3,
23 at 0.2 and 25 at 0.1; by meaning alone, for 24.
"""


def fuse(
    lexical: Sequence[tuple[str, bool]],
    semantic: Sequence[str],
    *,
    lexical_first: bool = False,
    relaxed: bool = False,
) -> list[str]:
    """One ranking of paper ids from a full-text one and a semantic one.

    ``lexical`` holds (id, direct) pairs best first, where direct means every word is in the
    title; direct hits keep the lead they have in full-text search. The rest are merged by
    reciprocal-rank fusion, the full-text ranks weighing less when they are ``relaxed`` (only
    some words matched). With ``lexical_first`` every full-text match comes before papers that
    are only similar in meaning.
    """
    direct = [pid for pid, is_direct in lexical if is_direct]
    rest = [pid for pid, is_direct in lexical if not is_direct]
    seen = set(direct)
    if lexical_first:
        seen.update(rest)
        return [*direct, *rest, *(pid for pid in dict.fromkeys(semantic) if pid not in seen)]
    weight = RELAXED_WEIGHT if relaxed else 1.0
    scores: dict[str, float] = {}
    for rank, pid in enumerate(rest, 1):
        scores[pid] = scores.get(pid, 0.0) + weight / (RRF_K + rank)
    for rank, pid in enumerate(dict.fromkeys(semantic), 1):
        if pid not in seen:
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (RRF_K + rank)
    # sorted() is stable: equal scores keep full-text order, then semantic order.
    return [*direct, *sorted(scores, key=lambda pid: -scores[pid])]
