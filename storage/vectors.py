"""Paper embeddings: one vector per paper, tagged with the model that made it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.vectors import Vector, pack, unpack
from storage.models import Paper, PaperVector

_CHUNK = 500


async def save_vectors(
    *, session: AsyncSession, model: str, vectors: Mapping[str, Vector], now: dt.datetime
) -> None:
    """Store these papers' vectors by ``model``, replacing any they had."""
    ids = list(vectors)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        await session.execute(delete(PaperVector).where(PaperVector.paper_id.in_(chunk)))
        session.add_all(
            PaperVector(paper_id=pid, model=model, vector=pack(vectors[pid]), created_at=now)
            for pid in chunk
        )
    await session.flush()


async def load_vectors(
    *, session: AsyncSession, model: str, paper_ids: Sequence[str]
) -> dict[str, Vector]:
    """The vectors ``model`` made of these papers; papers without one are absent."""
    found: dict[str, Vector] = {}
    unique = list(dict.fromkeys(paper_ids))
    for start in range(0, len(unique), _CHUNK):
        rows = await session.execute(
            select(PaperVector.paper_id, PaperVector.vector).where(
                PaperVector.model == model, PaperVector.paper_id.in_(unique[start : start + _CHUNK])
            )
        )
        found.update((pid, unpack(blob)) for pid, blob in rows.all())
    return found


async def without_vectors(*, session: AsyncSession, model: str, limit: int) -> list[str]:
    """Papers that have no vector by ``model`` yet, newest first."""
    has_vector = select(PaperVector.paper_id).where(PaperVector.model == model)
    rows = await session.scalars(
        select(Paper.id)
        .where(Paper.id.not_in(has_vector))
        .order_by(Paper.listed_on.desc(), Paper.id.desc())
        .limit(limit)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class VectorBatch:
    """Vectors of one model in one matrix."""

    ids: list[str]
    matrix: Vector


async def vectors_since(
    *, session: AsyncSession, model: str, since: dt.datetime | None
) -> VectorBatch:
    """Every vector by ``model`` stored at or after ``since`` (all of them without it)."""
    statement = select(PaperVector.paper_id, PaperVector.vector).where(PaperVector.model == model)
    if since is not None:
        statement = statement.where(PaperVector.created_at >= since)
    ids: list[str] = []
    blobs: list[bytes] = []
    width: int | None = None
    for pid, blob in (await session.execute(statement)).all():
        if width is None:
            width = len(blob)
        if len(blob) != width:
            continue  # a vector of another length cannot share the matrix
        ids.append(pid)
        blobs.append(blob)
    # One conversion for the whole matrix: a row at a time costs more than the query.
    matrix = unpack(b"".join(blobs)).reshape(len(ids), -1) if ids else unpack(b"").reshape(0, 0)
    return VectorBatch(ids=ids, matrix=matrix)


async def count_without_vectors(*, session: AsyncSession, model: str) -> int:
    """How many papers have no vector by ``model`` yet."""
    has_vector = select(PaperVector.paper_id).where(PaperVector.model == model)
    count = await session.scalar(
        select(func.count()).select_from(Paper).where(Paper.id.not_in(has_vector))
    )
    return int(count or 0)


async def texts_without_vectors(
    *, session: AsyncSession, model: str, limit: int
) -> list[tuple[str, str, str]]:
    """(id, title, abstract) of papers with no vector by ``model`` yet, newest first."""
    has_vector = select(PaperVector.paper_id).where(PaperVector.model == model)
    rows = await session.execute(
        select(Paper.id, Paper.title, Paper.abstract)
        .where(Paper.id.not_in(has_vector))
        .order_by(Paper.listed_on.desc(), Paper.id.desc())
        .limit(limit)
    )
    return [(pid, title, abstract) for pid, title, abstract in rows.all()]
