"""How a chat's follows, authors and mutes match papers, and why each paper came.

A chat's wishes are one :class:`Profile`: its tags, followed words (phrases) and authors, muted
words and muted tags.  A paper comes when it carries a followed tag, holds every word of a
followed phrase, or lists a followed author; a mute, word or tag, wins over every reason.

Words are read exactly as search reads them (:mod:`content.search`: the same normalisation,
stemmers, stopwords and compounds), over the English title and abstract and the Russian title
and summary, so ``watermark`` finds "Watermarking" and ``водяные знаки`` finds "водяных
знаков".  Author names match by their words, case, accents and punctuation aside: ``LeCun``
and ``Yann LeCun`` find "Yann LeCun", ``Y. LeCun`` too, but ``Yann LeCun`` never finds
"Yann Dubois".

:class:`Matcher` serves one compose: the papers' term sets are computed once per paper (and
cached across composes by id and text), each distinct follow is matched once, and sets of
papers are bit masks over the ranking, so a profile costs a few integer operations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import numpy as np

from content import search

WORD: Final[str] = "word"
AUTHOR: Final[str] = "author"
MUTE_WORD: Final[str] = "mute_word"
MUTE_TAG: Final[str] = "mute_tag"
KINDS: Final[tuple[str, ...]] = (WORD, AUTHOR, MUTE_WORD, MUTE_TAG)
"""The kinds of a stored follow (``storage.models.Follow.kind``)."""

MAX_FOLLOW_CHARS: Final[int] = 100
"""A follow, author or mute is at most this many characters as typed."""

MAX_KEY_CHARS: Final[int] = 128
"""The stored key's room (``Follow.key``)."""

_NAME_PART: Final = re.compile(r"[^\W_]+")


# --- keys: what a follow is, normalised --------------------------------------------------------


def phrase_terms(text: str) -> tuple[search.Term, ...]:
    """The words of a followed or muted phrase, as search reads a query (no tag filters)."""
    return _phrase_terms(text)


@lru_cache(maxsize=65536)
def _phrase_terms(text: str) -> tuple[search.Term, ...]:
    # Cached: every compose matches the same follows again; each distinct text is parsed once.
    return search.parse_query(text).terms


def phrase_key(text: str) -> str | None:
    """The key two phrases share when they match the same papers; None if nothing to match.

    Word order and inflection do not matter: "Водяные знаки" and "знак водяной" are one key.
    """
    terms = phrase_terms(text)
    if not terms:
        return None
    return " ".join(sorted({"+".join(term.alternatives[0]) for term in terms}))


def phrase_tags(text: str) -> tuple[str, ...]:
    """Known tags written as ``#tag`` in a phrase; a follow of these is a subscription."""
    return search.parse_query(text).tags


def name_words(name: str) -> tuple[str, ...]:
    """The words of a person's name: case, accents and punctuation aside ("Hervé Jégou")."""
    return _name_words(name)


@lru_cache(maxsize=65536)
def _name_words(name: str) -> tuple[str, ...]:
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return tuple(_NAME_PART.findall(bare.casefold().replace("ё", "е")))


def author_key(name: str) -> str | None:
    """The key of a followed author; None unless one word is longer than an initial."""
    words = name_words(name)
    if not any(len(word) > 1 for word in words):
        return None
    return " ".join(words)


def author_matches(followed: Sequence[str], author: Sequence[str]) -> bool:
    """Whether an author's name words hold every followed word; an initial matches a word.

    "lecun" and "yann lecun" match "yann lecun", so does "y lecun"; "yann lecun" does not
    match "yann dubois".
    """
    return all(any(_same_name_word(word, theirs) for theirs in author) for word in followed)


def _same_name_word(ours: str, theirs: str) -> bool:
    if ours == theirs:
        return True
    if len(ours) == 1:
        return theirs.startswith(ours)
    return len(theirs) == 1 and ours.startswith(theirs)


# --- the profile of a chat ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phrase:
    """A followed or muted phrase, or a followed author: its key and the text as typed."""

    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What a chat wants in its digest; chats with equal profiles share one composed result."""

    tags: frozenset[str] = frozenset()
    words: tuple[Phrase, ...] = ()
    authors: tuple[Phrase, ...] = ()
    mute_words: tuple[Phrase, ...] = ()
    mute_tags: frozenset[str] = frozenset()

    @property
    def wants_anything(self) -> bool:
        """Whether any paper could come: the chat follows a tag, a word or an author."""
        return bool(self.tags or self.words or self.authors)

    @property
    def needs_text(self) -> bool:
        """Whether matching reads the papers' texts and authors, not only their tags."""
        return bool(self.words or self.authors or self.mute_words)

    @property
    def topics(self) -> tuple[str, ...]:
        """The followed words and authors as typed, for headers: «watermark», Yann LeCun."""
        return tuple(f"«{p.text}»" for p in self.words) + tuple(p.text for p in self.authors)


def profile(
    tags: Iterable[str] = (),
    follows: Iterable[tuple[str, str, str]] = (),
) -> Profile:
    """A profile from tags and ``(kind, key, text)`` follows, in a canonical order."""
    by_kind: dict[str, list[Phrase]] = {kind: [] for kind in KINDS}
    for kind, key, text in follows:
        if kind in by_kind:
            by_kind[kind].append(Phrase(key, text))
    ordered = {kind: tuple(sorted(set(phrases), key=_by_key)) for kind, phrases in by_kind.items()}
    return Profile(
        tags=frozenset(tags),
        words=ordered[WORD],
        authors=ordered[AUTHOR],
        mute_words=ordered[MUTE_WORD],
        mute_tags=frozenset(p.key for p in ordered[MUTE_TAG]),
    )


def _by_key(phrase: Phrase) -> tuple[str, str]:
    return phrase.key, phrase.text


# --- why a paper came ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """What brought a paper to a chat: its followed tags, words and authors."""

    tags: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # the followed phrases, as typed
    authors: tuple[str, ...] = ()  # the paper's authors that matched, as the paper names them
    similar: bool = False  # close to what the chat liked (feedback ranking)
    _line: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once with the reason: compose shares reasons between the chats of a profile,
        # and looking a line up by the reason's hash costs more than keeping it.
        object.__setattr__(self, "_line", _line(self))

    def line(self) -> str:
        """The Russian plain-text line, without its 📌: "#mllm · «watermark» · автор: …"."""
        return self._line


def _line(reason: Reason) -> str:
    parts: list[str] = []
    if reason.tags:
        parts.append(" ".join(f"#{tag}" for tag in reason.tags))
    if reason.words:
        parts.append(", ".join(f"«{word}»" for word in reason.words))
    if reason.authors:
        label = "автор" if len(reason.authors) == 1 else "авторы"
        parts.append(f"{label}: {', '.join(reason.authors)}")
    if reason.similar:
        parts.append("похоже на то, что вам понравилось")
    return " · ".join(parts)


# --- matching one compose's papers --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaperText:
    """What matching reads of a paper; texts and authors may be left empty for tags only."""

    id: str
    tags: tuple[str, ...]
    title: str = ""
    abstract: str = ""
    title_ru: str | None = None
    summary_ru: str | None = None
    authors: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def paper_terms(
    paper_id: str, title: str, abstract: str, title_ru: str | None, summary_ru: str | None
) -> frozenset[str]:
    """Every index term of a paper's four texts; cached by id and text across composes."""
    del paper_id  # part of the cache key only: two papers never share an entry by accident
    texts = (title, abstract, title_ru, summary_ru)
    return frozenset(term for text in texts if text for term in search.terms(text))


@dataclass(slots=True)
class Matcher:
    """Matches profiles against one compose's papers, given best first."""

    papers: Sequence[PaperText]
    _tag_masks: dict[str, int] = field(default_factory=dict)
    _term_masks: dict[str, int] = field(default_factory=dict)
    _follow_masks: dict[tuple[str, str], int] = field(default_factory=dict)
    _terms: list[frozenset[str]] | None = None
    _authors: list[tuple[tuple[str, ...], ...]] | None = None
    _name_masks: dict[str, int] | None = None
    _tag_reasons: dict[tuple[str, ...], Reason] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for position, paper in enumerate(self.papers):
            bit = 1 << position
            for tag in paper.tags:
                self._tag_masks[tag] = self._tag_masks.get(tag, 0) | bit

    def matching(self, wanted: Profile) -> list[int]:
        """Positions of the papers the profile brings, best first; mutes win over all."""
        return _bits(self._brought(wanted))

    def others(self, wanted: Profile) -> list[int]:
        """Positions of the papers the profile neither brings nor mutes: suggestion material."""
        everything = (1 << len(self.papers)) - 1
        return _bits(everything & ~self._brought(wanted) & ~self._muted(wanted))

    def _brought(self, wanted: Profile) -> int:
        found = 0
        for tag in wanted.tags:
            found |= self._tag_masks.get(tag, 0)
        for phrase in wanted.words:
            found |= self._phrase_mask(phrase)
        for author in wanted.authors:
            found |= self._author_mask(author)
        if found:
            found &= ~self._muted(wanted)
        return found

    def _muted(self, wanted: Profile) -> int:
        muted = 0
        for tag in wanted.mute_tags:
            muted |= self._tag_masks.get(tag, 0)
        for phrase in wanted.mute_words:
            muted |= self._phrase_mask(phrase)
        return muted

    def reason(self, wanted: Profile, position: int) -> Reason:
        """Why the paper at this position came to a chat with this profile."""
        paper = self.papers[position]
        tags = tuple(filter(wanted.tags.__contains__, paper.tags))
        if not wanted.words and not wanted.authors:
            # Shared: tags-only profiles repeat the same few reasons per paper.
            found = self._tag_reasons.get(tags)
            if found is None:
                found = self._tag_reasons[tags] = Reason(tags=tags)
            return found
        bit = 1 << position
        words = tuple(p.text for p in wanted.words if self._phrase_mask(p) & bit)
        authors: list[str] = []
        if wanted.authors:
            names = self._author_words()[position]
            for followed in wanted.authors:
                if not self._author_mask(followed) & bit:
                    continue
                words_of = name_words(followed.text)
                for name, theirs in zip(paper.authors, names, strict=True):
                    if author_matches(words_of, theirs) and name not in authors:
                        authors.append(name)
        return Reason(tags=tags, words=words, authors=tuple(authors))

    def _phrase_mask(self, phrase: Phrase) -> int:
        key = (WORD, phrase.text)
        mask = self._follow_masks.get(key)
        if mask is None:
            mask = 0
            terms = phrase_terms(phrase.text)
            if terms:
                mask = (1 << len(self.papers)) - 1
                for term in terms:
                    any_of = 0
                    for alternative in term.alternatives:
                        every = mask
                        for index_term in alternative:
                            every &= self._term_mask(index_term)
                        any_of |= every
                    mask &= any_of
            self._follow_masks[key] = mask
        return mask

    def _term_mask(self, term: str) -> int:
        mask = self._term_masks.get(term)
        if mask is None:
            mask = 0
            for position, terms in enumerate(self._paper_terms()):
                if term in terms:
                    mask |= 1 << position
            self._term_masks[term] = mask
        return mask

    def _paper_terms(self) -> list[frozenset[str]]:
        if self._terms is None:
            self._terms = [
                paper_terms(p.id, p.title, p.abstract, p.title_ru, p.summary_ru)
                for p in self.papers
            ]
        return self._terms

    def _author_words(self) -> list[tuple[tuple[str, ...], ...]]:
        if self._authors is None:
            self._authors = [tuple(map(name_words, p.authors)) for p in self.papers]
        return self._authors

    def _author_mask(self, followed: Phrase) -> int:
        key = (AUTHOR, followed.text)
        mask = self._follow_masks.get(key)
        if mask is None:
            mask = 0
            words = name_words(followed.text)
            index = self._name_index()
            candidates = (1 << len(self.papers)) - 1 if words else 0
            for word in words:
                if len(word) > 1:
                    # The word itself, or an author's initial of it ("Y. LeCun").
                    candidates &= index.get(word, 0) | index.get(word[0], 0)
            # Only the few candidates are checked author by author: the words must belong
            # to one author, not to several on the same paper.
            names = self._author_words()
            for position in _bits(candidates):
                if any(author_matches(words, theirs) for theirs in names[position]):
                    mask |= 1 << position
            self._follow_masks[key] = mask
        return mask

    def _name_index(self) -> dict[str, int]:
        if self._name_masks is None:
            index: dict[str, int] = {}
            for position, names in enumerate(self._author_words()):
                bit = 1 << position
                for word in {word for name in names for word in name}:
                    index[word] = index.get(word, 0) | bit
            self._name_masks = index
        return self._name_masks


def _bits(mask: int) -> list[int]:
    """Positions of the set bits, lowest first."""
    if not mask:
        return []
    # numpy reads the bits at C speed: a profile's few hundred papers cost microseconds, where
    # peeling the lowest bit off a Python int made a new int for every paper.
    raw = np.frombuffer(mask.to_bytes((mask.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    positions: list[int] = np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist()
    return positions
