"""Hybrid search: a Russian query finds a paper that has only English text, on both databases.

The papers of the search fixture are stored without their Russian fields: half have no
summary yet (as from arXiv before the LLM ran), half went out with the English fallback.
Their vectors come from the real embedded model, made once per test session.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.vectors import VectorService
from content.embeddings import LOCAL_MODEL, LocalModel, passage_text
from content.models import CatalogEntry, SummaryStatus
from content.search import parse_query
from content.summarize import fallback_summary
from content.vectors import Vector
from storage import papers as catalog
from storage import search
from storage.db import create_engine, create_sessionmaker
from storage.vectors import save_vectors
from tests.fake_telegram import FakeTelegram
from tests.harness import TOKEN, make_settings, running_bot
from tests.search_fixture import AWAKER, MPO, load_search_papers, search_paper

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime(2025, 1, 10, 6, 0, tzinfo=dt.UTC)
USER = 1001

# Russian queries as a reader would type them, each about one paper of the fixture. None
# of them is a word-for-word translation that full-text search could match: the papers
# hold English text only.
RUSSIAN_QUERIES: dict[str, str] = {
    "смесь экспертов для мультимодальных моделей": AWAKER,
    "спекулятивное декодирование": "2211.17192",
    "низкоранговая адаптация больших языковых моделей": "2106.09685",
    "квантование весов с учётом активаций": "2306.00978",
    "сегментировать любой объект на картинке": "2304.02643",
    "распознавание речи, обученное на слабой разметке": "2212.04356",
    "генерация музыки по текстовому описанию": "2306.05284",
    "оптимизация предпочтений без модели вознаграждения": "2305.18290",
    "галлюцинации объектов в визуально-языковых моделях": "2305.10355",
    "графовый RAG для суммаризации по запросу": "2404.16130",
    "открытая модель зрение-язык-действие для роботов": "2406.09246",
    "гауссово сплэттинг для рендеринга в реальном времени": "2308.04079",
    "модель последовательностей с селективным пространством состояний": "2312.00752",
    "управление памятью при обслуживании LLM, страничное внимание": "2309.06180",
    "дообучение квантованных моделей": "2305.14314",
    "могут ли языковые модели решать реальные задачи с GitHub": "2310.06770",
    "утечка тестовых данных в обучающую выборку языковых моделей": "2308.08493",
    "разреженные автоэнкодеры и интерпретируемые признаки": "2309.08600",
    "перевод научных статей из PDF в разметку": "2308.13418",
    "почему языковые модели галлюцинируют": "2509.04664",
    "атака на выровненные модели состязательным суффиксом": "2307.15043",
    "информация в середине длинного контекста теряется": "2307.03172",
    "законы масштабирования нейронных языковых моделей": "2001.08361",
    "модель мира для освоения разных сред": "2301.04104",
    "изображение как последовательность патчей для трансформера": "2010.11929",
    "ротационные позиционные эмбеддинги": "2104.09864",
    "нейронные поля излучения для синтеза новых ракурсов": "2003.08934",
    "спящие агенты: обман, который переживает обучение безопасности": "2401.05566",
    "ответы на медицинские вопросы на уровне экспертов": "2305.09617",
    "цепочка рассуждений в подсказках": "2201.11903",
}
HIT_RATE_REQUIRED = 0.8

# Names of models and methods, and the paper each must bring first.
EXACT_NAMES: dict[str, str] = {
    "InternVL2-8B": MPO,  # named in its abstract only
    "Awaker2.5-VL": AWAKER,
    "QLoRA": "2305.14314",
    "PagedAttention": "2309.06180",
    "Mamba": "2312.00752",
}


def english_only() -> list[dict[str, Any]]:
    """The fixture's papers with their Russian title and summary dropped."""
    return [
        {key: value for key, value in item.items() if key not in {"title_ru", "summary_ru"}}
        for item in load_search_papers()
    ]


@pytest.fixture(scope="session")
def local_model() -> LocalModel:
    """The embedded model, loaded once for the session."""
    return LocalModel()


@pytest.fixture(scope="session")
def fixture_vectors(local_model: LocalModel) -> dict[str, Vector]:
    """Every fixture paper's vector by the embedded model: about 20 s, so once a session."""
    items = english_only()
    texts = [passage_text(item["title"], item["abstract"]) for item in items]
    matrix = np.vstack([local_model.passages(texts[i : i + 32]) for i in range(0, len(texts), 32)])
    return {item["id"]: row for item, row in zip(items, matrix, strict=True)}


async def seed_english(sessionmaker: Sessions, vectors: dict[str, Vector]) -> list[str]:
    """Store the English-only papers, half with the fallback summary, and their vectors."""
    items = english_only()
    entries = [
        CatalogEntry(paper=search_paper(item), code_url=item["code_url"], tags=tuple(item["tags"]))
        for item in items
    ]
    fallbacks = []
    for item in items[::2]:
        summary = fallback_summary(search_paper(item))
        fallbacks.append(
            catalog.SummaryUpdate(
                item["id"], summary.title_ru, summary.summary_ru, SummaryStatus.FALLBACK
            )
        )
    async with sessionmaker() as session, session.begin():
        await catalog.upsert_papers(session=session, entries=entries)
        await catalog.save_summaries(session=session, updates=fallbacks)
        await save_vectors(session=session, model=LOCAL_MODEL, vectors=vectors, now=NOW)
    return [item["id"] for item in items]


async def hybrid_ids(
    sessionmaker: Sessions, service: VectorService, text: str, *, limit: int = 3, offset: int = 0
) -> list[str]:
    """What /search shows for ``text``: the hybrid search path of the bot."""
    query = parse_query(text)
    semantic = await service.semantic_soon(query)
    async with sessionmaker() as session:
        page = await search.search(
            session=session, query=query, offset=offset, limit=limit, semantic=semantic
        )
    return [hit.id for hit in page.hits]


@pytest.fixture
async def english_catalogue(
    sessionmaker: Sessions, fixture_vectors: dict[str, Vector], local_model: LocalModel
) -> VectorService:
    await seed_english(sessionmaker, fixture_vectors)
    return VectorService(model=local_model, sessionmaker=sessionmaker)


async def test_russian_queries_find_english_only_papers(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """A reader searching in Russian finds the English-only paper in the top 3."""
    misses = {}
    for text, wanted in RUSSIAN_QUERIES.items():
        found = await hybrid_ids(sessionmaker, english_catalogue, text)
        if wanted not in found:
            misses[text] = found
    hits = len(RUSSIAN_QUERIES) - len(misses)
    assert hits / len(RUSSIAN_QUERIES) >= HIT_RATE_REQUIRED, misses


async def test_exact_names_stay_first(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """A model's name brings the paper that names it first, whatever is similar in meaning."""
    for name, wanted in EXACT_NAMES.items():
        found = await hybrid_ids(sessionmaker, english_catalogue, name, limit=5)
        assert found[:1] == [wanted], (name, found)


async def test_words_alone_miss_what_hybrid_finds(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """Without vectors the same Russian queries mostly miss: the hits come from meaning."""
    lexical_hits = 0
    for text, wanted in RUSSIAN_QUERIES.items():
        async with sessionmaker() as session:
            page = await search.search(session=session, query=parse_query(text), limit=3)
        lexical_hits += wanted in [hit.id for hit in page.hits]
    assert lexical_hits < len(RUSSIAN_QUERIES) // 2


async def test_pages_of_a_hybrid_search_neither_repeat_nor_skip(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """Turning the pages of a hybrid result shows each paper once, in the order of one list."""
    text = "смесь экспертов"
    pages = [
        await hybrid_ids(sessionmaker, english_catalogue, text, limit=5, offset=offset)
        for offset in range(0, 30, 5)
    ]
    flat = [pid for page in pages for pid in page]
    assert len(flat) == len(set(flat)) == 30
    assert flat == await hybrid_ids(sessionmaker, english_catalogue, text, limit=30)


async def test_tag_filters_apply_to_papers_found_by_meaning(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """``#tag`` keeps only papers with the tag, the ones found by meaning included."""
    items = {item["id"]: item for item in english_only()}
    found = await hybrid_ids(sessionmaker, english_catalogue, "#moe смесь экспертов", limit=20)
    assert found
    assert all("moe" in items[pid]["tags"] for pid in found)


async def test_similar_papers_are_the_nearest_others(
    sessionmaker: Sessions, english_catalogue: VectorService
) -> None:
    """«Похожие» on the Mixtral paper names other mixture-of-experts papers, never itself."""
    similar = await english_catalogue.similar("2401.04088", k=5)
    assert len(similar) == 5
    assert "2401.04088" not in similar
    items = {item["id"]: item for item in english_only()}
    assert sum("moe" in items[pid]["tags"] for pid in similar) >= 3
    assert await english_catalogue.similar("no-such-paper") == []


async def test_without_a_model_search_matches_words(sessionmaker: Sessions) -> None:
    """With embeddings off the service has no vectors and search is full-text as before."""
    service = VectorService(model=None, sessionmaker=sessionmaker)
    assert await service.semantic(parse_query("смесь экспертов")) is None
    assert await service.similar("2401.04088") == []
    assert await service.embed_query("смесь экспертов") is None


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt to reach a host over the network fails, as on a machine offline."""
    real_connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network use in an offline test")
        real_connect(self, address)

    def no_connection(*args: Any, **kwargs: Any) -> socket.socket:
        raise OSError("network use in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", no_connection)


def test_the_embedded_model_runs_offline(no_network: None) -> None:
    """A fresh embedded model loads and embeds with every network connection refused."""
    model = LocalModel()
    paper = model.passages(["Mixtral of Experts. A sparse mixture of experts language model."])
    query = model.query("смесь экспертов")
    assert paper.shape == (1, 384)
    assert query.shape == (384,)
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-3)
    assert float(paper[0] @ query) > 0.8


# --- through the bot ------------------------------------------------------------------------


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


async def test_a_reader_finds_an_english_only_paper_with_a_russian_search(
    fake_telegram: FakeTelegram, db_url: str, fixture_vectors: dict[str, Vector]
) -> None:
    """/search and inline mode in Russian show the English-only paper; exact names come first."""
    engine = create_engine(db_url)
    try:
        await seed_english(create_sessionmaker(engine), fixture_vectors)
    finally:
        await engine.dispose()
    titles = {item["id"]: item["title"] for item in english_only()}
    settings = make_settings(fake_telegram, db_url, embeddings="on")
    async with running_bot(settings):
        fake_telegram.send_text(USER, "/search спекулятивное декодирование")
        (reply,) = await fake_telegram.wait_for_messages(USER, 1)
        assert titles["2211.17192"] in reply.plain.split("\n\n")[1]  # the first card
        fake_telegram.send_text(USER, "/search InternVL2-8B")
        reply = (await fake_telegram.wait_for_messages(USER, 2))[1]
        assert titles[MPO] in reply.plain.split("\n\n")[1]
        fake_telegram.inline_query(USER, "гауссово сплэттинг")
        await fake_telegram.wait_until(lambda: bool(fake_telegram.inline_answers), 10)
        results = fake_telegram.inline_answers[0].results
        assert results[0]["id"] == "2308.04079"
