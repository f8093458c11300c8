"""Paper embeddings as numbers: their stored form and nearest-neighbour search in memory.

Vectors are L2-normalised, so a dot product is their cosine similarity. They are stored as
float16 (768 bytes for 384 dimensions) and computed with as float32.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
"""One embedding, or a matrix of them one per row."""

_STORED = np.dtype("<f2")


def pack(vector: Vector) -> bytes:
    """The stored form of one vector: float16, little-endian."""
    return np.asarray(vector, dtype=_STORED).tobytes()


def unpack(blob: bytes) -> Vector:
    """A stored vector back as float32."""
    return np.frombuffer(blob, dtype=_STORED).astype(np.float32)


def normalised(matrix: npt.ArrayLike) -> Vector:
    """Rows scaled to unit length (a zero row stays zero)."""
    rows = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)


class VectorIndex:
    """Papers' vectors in one matrix, for exact nearest-neighbour search by cosine."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._matrix: Vector = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._rows

    def add(self, ids: Sequence[str], matrix: Vector) -> None:
        """Add or replace these papers' vectors (rows of ``matrix``, in the order of ``ids``)."""
        if not ids:
            return
        rows = normalised(matrix)
        fresh: list[int] = []
        for position, paper_id in enumerate(ids):
            row = self._rows.get(paper_id)
            if row is None:
                fresh.append(position)
            else:
                self._matrix[row] = rows[position]
        if fresh:
            start = len(self._ids)
            for offset, position in enumerate(fresh):
                self._ids.append(ids[position])
                self._rows[ids[position]] = start + offset
            self._matrix = np.vstack([self._matrix, rows[fresh]])

    def vector(self, paper_id: str) -> Vector | None:
        """The paper's vector, or None when it has none."""
        row = self._rows.get(paper_id)
        return None if row is None else self._matrix[row]

    def nearest(
        self, query: Vector, k: int, *, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` papers closest to ``query``, best first, with their cosine similarity."""
        if not self._ids or k <= 0:
            return []
        scores = self._matrix @ normalised(query)[0]
        wanted = min(len(scores), k + len(exclude))
        top = np.argpartition(-scores, wanted - 1)[:wanted]
        top = top[np.argsort(-scores[top], kind="stable")]
        found = [(self._ids[i], float(scores[i])) for i in top if self._ids[i] not in exclude]
        return found[:k]
