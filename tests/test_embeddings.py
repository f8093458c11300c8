"""Embeddings: made once per paper at ingest, by the embedded model or an endpoint, and kept."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import wait_none

from bot.ingest import Ingestor
from bot.settings import Settings
from bot.vectors import REFRESH_SECONDS, VectorService, embedding_model
from content.embeddings import (
    LOCAL_MODEL,
    EmbeddingError,
    LocalModel,
    RemoteConfig,
    RemoteModel,
    passage_text,
)
from content.models import Source
from content.summarize import Summarizer
from storage.db import create_engine, create_sessionmaker
from storage.models import PaperVector
from storage.vectors import save_vectors
from tests.fake_embeddings import FakeEmbeddings, bag_of_words
from tests.fake_sources import FakeSources
from tests.test_cli import clean_env, run_cli
from tests.test_ingest import DAY, HF_DAY, NOW, valid_ids

EMBEDDING_KEY = "sk-test-7f3a9c1e5b2d"  # one of tests.harness.SECRETS: the log audit checks it


@pytest.fixture
async def endpoint() -> AsyncIterator[FakeEmbeddings]:
    async with FakeEmbeddings() as fake:
        yield fake


@pytest.fixture
async def sources() -> AsyncIterator[FakeSources]:
    async with FakeSources() as fake:
        fake.hf_days[DAY] = HF_DAY.read_bytes()
        yield fake


def remote(endpoint: FakeEmbeddings, model: str = "bge-m3", **extra: Any) -> RemoteModel:
    # No retries unless asked for: the client's backoff would only slow the tests down.
    options: dict[str, Any] = {"max_retries": 0, **extra}
    return RemoteModel(
        RemoteConfig(base_url=endpoint.url, model=model, api_key=EMBEDDING_KEY, **options)
    )


# --- the passage ----------------------------------------------------------------------------


def test_a_paper_is_embedded_from_its_title_and_the_opening_of_its_abstract() -> None:
    abstract = "We study sparse experts. " * 40
    text = passage_text("Mixtral of Experts", abstract, limit=60)
    assert text.startswith("Mixtral of Experts. We study sparse experts.")
    assert len(text) <= len("Mixtral of Experts. ") + 60
    # Cut after a whole word.
    assert abstract.startswith(text.removeprefix("Mixtral of Experts. ") + " ")
    assert passage_text("Title", "Short.") == "Title. Short."
    assert passage_text("  Title\n", "") == "Title"


# --- a remote endpoint ----------------------------------------------------------------------


async def test_an_endpoint_answering_base64_gives_normalised_vectors(
    endpoint: FakeEmbeddings,
) -> None:
    """The client asks for base64 (as the official one does); the rows come back unit length."""
    model = remote(endpoint)
    try:
        rows = await model.embed(["mixture of experts", "speculative decoding"])
    finally:
        await model.aclose()
    assert rows.shape == (2, endpoint.dims)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(bag_of_words("mixture of experts", endpoint.dims))
    assert np.allclose(rows[0], expected / np.linalg.norm(expected), atol=1e-5)
    authorization, body = endpoint.requests[0]
    assert authorization == f"Bearer {EMBEDDING_KEY}"
    assert body["model"] == "bge-m3"
    assert body["encoding_format"] == "base64"
    assert body["input"] == ["mixture of experts", "speculative decoding"]
    assert model.name == "openai:bge-m3"


async def test_an_endpoint_answering_floats_gives_the_same_vectors() -> None:
    """A server that ignores encoding_format and sends lists of floats is read the same."""
    async with FakeEmbeddings() as base64_server, FakeEmbeddings(ignores_format=True) as floats:
        first, second = remote(base64_server), remote(floats)
        try:
            a = await first.embed(["low-rank adaptation"])
            b = await second.embed(["low-rank adaptation"])
        finally:
            await first.aclose()
            await second.aclose()
    assert np.allclose(a, b, atol=1e-6)


async def test_large_batches_go_in_several_requests(endpoint: FakeEmbeddings) -> None:
    model = remote(endpoint)
    try:
        rows = await model.embed([f"paper {i}" for i in range(150)])
    finally:
        await model.aclose()
    assert rows.shape[0] == 150
    assert [len(body["input"]) for _, body in endpoint.requests] == [64, 64, 22]


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "data": [], "model": "m"},
        {"object": "list", "model": "m"},
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "%%%"}]},
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": ["a"]}]},
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": []}]},
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 5, "embedding": [0.1, 0.2]}],
        },
    ],
    ids=["empty", "no-data", "bad-base64", "not-numbers", "zero-length", "wrong-index"],
)
async def test_a_broken_answer_is_an_embedding_error(
    endpoint: FakeEmbeddings, body: dict[str, Any]
) -> None:
    endpoint.respond_body_next(body)
    model = remote(endpoint)
    try:
        with pytest.raises(EmbeddingError):
            await model.embed(["one text"])
    finally:
        await model.aclose()


async def test_a_server_error_is_retried_by_the_client_then_reported(
    endpoint: FakeEmbeddings,
) -> None:
    endpoint.fail_next(503, times=1)
    model = remote(endpoint, max_retries=1)
    try:
        rows = await model.embed(["retried"])
    finally:
        await model.aclose()
    assert rows.shape == (1, endpoint.dims)
    endpoint.fail_next(500, times=5)
    model = remote(endpoint)
    try:
        with pytest.raises(EmbeddingError):
            await model.embed(["failed"])
    finally:
        await model.aclose()


# --- settings -------------------------------------------------------------------------------


def test_the_settings_choose_the_model(endpoint: FakeEmbeddings) -> None:
    """Off means words only; an endpoint wins over the embedded model; its key is a secret."""
    assert embedding_model(Settings(_env_file=None, embeddings="OFF")) is None
    local = embedding_model(Settings(_env_file=None))
    assert isinstance(local, LocalModel)
    assert local.name == LOCAL_MODEL
    settings = Settings(
        _env_file=None,
        embedding_base_url=endpoint.url,
        embedding_api_key=EMBEDDING_KEY,
        embedding_model="text-embedding-3-small",
    )
    chosen = embedding_model(settings)
    assert isinstance(chosen, RemoteModel)
    assert chosen.name == "openai:text-embedding-3-small"
    assert EMBEDDING_KEY in settings.secrets()
    assert EMBEDDING_KEY not in repr(settings) + repr(chosen.config)


# --- ingest ---------------------------------------------------------------------------------


async def ingest(db_url: str, sources: FakeSources, embedder: Any) -> Any:
    settings = Settings(
        _env_file=None, database_url=db_url, hf_api_url=sources.hf_url, embeddings="on"
    )
    engine = create_engine(db_url)
    ingestor = Ingestor(
        settings=settings,
        sessionmaker=create_sessionmaker(engine),
        clock=lambda: NOW,
        summarizer=Summarizer(None),
        embedder=embedder,
        source_wait=wait_none(),
        http_timeout=0.3,
    )
    try:
        return await ingestor.run([DAY], [Source.HF])
    finally:
        await ingestor.aclose()
        await engine.dispose()


async def stored_vectors(db_url: str) -> dict[str, str]:
    """Paper id -> the model its stored vector is by."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(select(PaperVector.paper_id, PaperVector.model))
            return {pid: model for pid, model in rows.all()}
    finally:
        await engine.dispose()


async def test_ingest_embeds_each_paper_once_with_the_embedded_model(
    db_url: str, sources: FakeSources
) -> None:
    """The worker process embeds the day's papers; a re-run embeds nothing again."""
    report = await ingest(db_url, sources, LocalModel())
    assert report.embedded == len(valid_ids())
    assert await stored_vectors(db_url) == dict.fromkeys(valid_ids(), LOCAL_MODEL)
    again = await ingest(db_url, sources, LocalModel())
    assert again.embedded == 0
    assert "embedded" not in again.line()


async def test_ingest_embeds_through_an_endpoint_once(
    db_url: str, sources: FakeSources, endpoint: FakeEmbeddings
) -> None:
    report = await ingest(db_url, sources, remote(endpoint))
    assert report.embedded == len(valid_ids())
    assert f"{len(valid_ids())} embedded" in report.line()
    assert await stored_vectors(db_url) == dict.fromkeys(valid_ids(), "openai:bge-m3")
    asked = len(endpoint.texts)
    assert asked == len(valid_ids())
    await ingest(db_url, sources, remote(endpoint))
    assert len(endpoint.texts) == asked


async def test_a_failing_endpoint_never_fails_ingest_and_is_retried_next_run(
    db_url: str, sources: FakeSources, endpoint: FakeEmbeddings, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.fail_next(500)
    with caplog.at_level(logging.ERROR, logger="bot.ingest"):
        report = await ingest(db_url, sources, remote(endpoint))
    assert report.ok
    assert report.papers == len(valid_ids())
    assert report.embedded == 0
    assert await stored_vectors(db_url) == {}
    assert any("embedding failed, will retry" in r.getMessage() for r in caplog.records)
    report = await ingest(db_url, sources, remote(endpoint))
    assert report.embedded == len(valid_ids())


# --- reembed --------------------------------------------------------------------------------


async def test_reembed_after_a_change_of_model_embeds_the_whole_catalogue(
    db_url: str, sources: FakeSources, endpoint: FakeEmbeddings, tmp_path: Any
) -> None:
    """Switching EMBEDDING_MODEL and running `digest-bot reembed` replaces every vector."""
    await ingest(db_url, sources, remote(endpoint, model="old-model"))
    assert set((await stored_vectors(db_url)).values()) == {"openai:old-model"}
    env = clean_env(
        DATABASE_URL=db_url,
        EMBEDDING_BASE_URL=endpoint.url,
        EMBEDDING_API_KEY=EMBEDDING_KEY,
        EMBEDDING_MODEL="new-model",
    )
    code, out, err = await run_cli("reembed", cwd=tmp_path, env=env)
    assert code == 0, err
    papers = len(valid_ids())
    assert out.strip() == f"{papers} papers embedded by openai:new-model; every paper has a vector"
    assert await stored_vectors(db_url) == dict.fromkeys(valid_ids(), "openai:new-model")
    assert EMBEDDING_KEY not in out + err
    code, out, err = await run_cli("reembed", cwd=tmp_path, env=env)
    assert code == 0, err
    assert out.startswith("0 papers embedded")

    code, out, err = await run_cli("reembed", cwd=tmp_path, env={**env, "EMBEDDINGS": "off"})
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: no embedding model")


# --- the index in memory --------------------------------------------------------------------


async def test_the_index_takes_in_vectors_another_replica_stores(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Vectors stored after the index loaded appear within REFRESH_SECONDS, without a reload."""
    from tests.test_hybrid_search import NOW as SEEDED
    from tests.test_hybrid_search import english_only, seed_english

    items = english_only()[:6]
    rng = np.random.default_rng(1)
    vectors = {item["id"]: rng.standard_normal(8).astype(np.float32) for item in items}
    first = dict(list(vectors.items())[:3])
    await seed_english(sessionmaker, first)
    clock = [0.0]
    looked_at = SEEDED + dt.timedelta(hours=1)
    service = VectorService(
        model=LocalModel(),
        sessionmaker=sessionmaker,
        monotonic=lambda: clock[0],
        clock=lambda: looked_at,
    )
    index = await service.index()
    assert index is not None
    assert len(index) == 3
    later = dict(list(vectors.items())[3:])
    # The other replica stamped them just before that look, and committed just after it.
    async with sessionmaker() as session, session.begin():
        await save_vectors(
            session=session,
            model=LOCAL_MODEL,
            vectors=later,
            now=looked_at - dt.timedelta(minutes=5),
        )
    assert len(await service.index() or []) == 3  # not looked again yet
    clock[0] += REFRESH_SECONDS
    assert await service.index() is index  # the same index, topped up
    assert len(index) == 6
    similar = await service.similar(items[0]["id"], k=5)
    assert len(similar) == 5
    assert items[0]["id"] not in similar
