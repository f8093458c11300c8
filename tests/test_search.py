"""Search finds papers by topic, model name or method, in Russian or English, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content.models import CatalogEntry, Paper, Source, SummaryStatus
from content.search import MAX_QUERY_TERMS, parse_query, terms
from storage import papers as catalog
from storage import search
from storage.db import alembic_config, create_engine, create_sessionmaker, upgrade_async
from storage.models import Paper as PaperRow
from storage.models import PaperTag
from tests.conftest import POSTGRES_SKIP_REASON, POSTGRES_URL_ENV
from tests.search_fixture import AWAKER, MPO, load_search_papers, seed_search_papers

Sessions = async_sessionmaker[AsyncSession]

# Hostile input: FTS5 and tsquery syntax, broken quoting, SQL, odd Unicode and sheer size.
HOSTILE_QUERIES = [
    '"',
    '""',
    '"unbalanced',
    "'",
    "it's",
    "(",
    ")",
    "((mixture",
    "experts))",
    "*",
    "mixt*",
    "^title",
    "title:moe",
    "{title abstract}: moe",
    "NEAR(a b, 3)",
    "a NEAR b",
    "OR",
    "AND",
    "NOT",
    "a OR b AND NOT c",
    "-moe",
    "moe -mixture",
    "+moe",
    "moe & expert",
    "moe | expert",
    "!moe",
    "moe <-> expert",
    "moe:*",
    "moe:A",
    "'moe':*B",
    "\\",
    "\\\\'",
    "%",
    "50% _",
    "_%_",
    "'; DROP TABLE papers; --",
    "1 OR 1=1",
    "UNION SELECT * FROM chats",
    "\x00",
    "moe\x00experts",
    "\u202emoe",
    "مزيج من الخبراء",
    "תערובת מומחים",
    "🤖🔥💻",
    "👨‍👩‍👧‍👦 moe",
    "模型 专家混合",
    "ﬁne-tuning",
    "ё Ё е",
    "#",
    "##",
    "#moe#mllm",
    "# moe",
    "#нет_такого_тега",
    "a" * 4096,
    ("смесь экспертов " * 300)[:4096],
    " ".join(f"w{i}" for i in range(200)),
    "-".join("x" for _ in range(300)),
    "1" * 100,
    "\t\n\r  ",
    "<b>moe</b>",
    "&amp; &lt;",
    "\ud800",
    "collate nocase",
]


@pytest.fixture
async def catalogue(sessionmaker: Sessions) -> Sessions:
    await seed_search_papers(sessionmaker)
    return sessionmaker


async def top(sessionmaker: Sessions, query: str, limit: int = 5) -> list[str]:
    async with sessionmaker() as session:
        page = await search.search(session=session, query=parse_query(query), limit=limit)
    return [hit.id for hit in page.hits]


# --- acceptance 1: what readers look for ----------------------------------------------------


def test_the_fixture_is_a_realistic_catalogue() -> None:
    papers = load_search_papers()
    assert len(papers) >= 200
    assert all(p["title_ru"] and p["summary_ru"] and p["abstract"] for p in papers)
    assert {AWAKER, MPO} <= {p["id"] for p in papers}


@pytest.mark.parametrize("query", ["смесь экспертов", "mixture of experts", "Mixture-of-Experts"])
async def test_mixture_of_experts_in_either_language_finds_awaker(
    catalogue: Sessions, query: str
) -> None:
    assert AWAKER in await top(catalogue, query, limit=3)


async def test_russian_morphology_matches_other_forms(catalogue: Sessions) -> None:
    found = await top(catalogue, "мультимодальная модель", limit=50)
    by_id = {p["id"]: p for p in load_search_papers()}
    texts = [f"{by_id[pid]['title_ru']} {by_id[pid]['summary_ru']}" for pid in found]
    assert any("мультимодальных моделей" in text for text in texts)
    assert MPO in found  # "…рассуждения мультимодальных моделей"


async def test_english_morphology_matches_singular_and_plural(catalogue: Sessions) -> None:
    assert set(await top(catalogue, "expert", limit=20)) == set(
        await top(catalogue, "experts", limit=20)
    )


@pytest.mark.parametrize(
    ("query", "paper"),
    [
        ("InternVL2-8B", MPO),
        ("internvl2-8b", MPO),
        ("InternVL2 8B", MPO),
        ("Awaker2.5-VL", AWAKER),
        ("awaker2.5", AWAKER),
        ("Qwen2.5-VL", "2502.13923"),
        ("GPT-4", "2303.08774"),
    ],
)
async def test_a_model_name_finds_its_paper(catalogue: Sessions, query: str, paper: str) -> None:
    assert (await top(catalogue, query, limit=3))[0] == paper


async def test_a_family_name_finds_its_versions(catalogue: Sessions) -> None:
    found = await top(catalogue, "InternVL", limit=10)
    assert {"2312.14238", "2404.16821", "2412.05271", MPO} <= set(found)


async def test_a_hashtag_filters_by_tag(catalogue: Sessions) -> None:
    by_id = {p["id"]: p for p in load_search_papers()}
    found = await top(catalogue, "#moe", limit=50)
    assert found and all("moe" in by_id[pid]["tags"] for pid in found)
    assert AWAKER in found
    found = await top(catalogue, "#rag поиск", limit=50)
    assert found and all("rag" in by_id[pid]["tags"] for pid in found)
    assert "2004.04906" in found  # DPR: "плотный поиск фрагментов"


async def test_the_title_outranks_the_abstract(catalogue: Sessions) -> None:
    # The LoRA paper has the word in its title; Awaker only in its abstract and summary.
    found = await top(catalogue, "LoRA", limit=10)
    assert found[0] == "2106.09685"
    assert found.index("2106.09685") < found.index(AWAKER)


async def test_among_direct_hits_the_newest_comes_first(catalogue: Sessions) -> None:
    found = await top(catalogue, "Qwen", limit=3)
    assert found[0] == "2502.13923"  # Qwen2.5-VL, the newest paper with Qwen in its title


async def test_no_paper_with_every_word_falls_back_to_papers_with_some(
    catalogue: Sessions,
) -> None:
    async with catalogue() as session:
        page = await search.search(
            session=session, query=parse_query("Awaker2.5-VL кухонные роботы-повара")
        )
    assert page.relaxed
    assert page.hits


async def test_nothing_found_is_an_empty_page(catalogue: Sessions) -> None:
    async with catalogue() as session:
        page = await search.search(session=session, query=parse_query("зюзюка"))
    assert page.hits == () and not page.has_more and not page.relaxed


async def test_pages_continue_without_repeats(catalogue: Sessions) -> None:
    query = parse_query("языковые модели")
    seen: list[str] = []
    async with catalogue() as session:
        for offset in range(0, 30, 5):
            page = await search.search(session=session, query=query, offset=offset, limit=5)
            seen += [hit.id for hit in page.hits]
            assert page.has_more or len(page.hits) < 5
    assert len(seen) == len(set(seen)) == 30


async def test_a_hit_carries_what_a_card_shows(catalogue: Sessions) -> None:
    async with catalogue() as session:
        page = await search.search(session=session, query=parse_query("Awaker2.5-VL"))
    [hit] = page.hits
    assert hit.title_ru and hit.title_ru.startswith("Awaker2.5-VL")
    assert hit.code_url == "https://github.com/MetabrainAGI/Awaker"
    assert "moe" in hit.tags


# --- acceptance 2: the same ranking on both dialects ------------------------------------------

AGREEMENT_QUERIES = [
    "смесь экспертов",
    "mixture of experts",
    "мультимодальная модель",
    "InternVL2-8B",
    "галлюцинации",
    "роботы",
    "preference optimization",
    "Qwen",
    "#rag поиск",
    "speech recognition",
]


async def _seeded(url: str) -> Sessions:
    await upgrade_async(url)
    sessionmaker = create_sessionmaker(create_engine(url))
    await seed_search_papers(sessionmaker)
    return sessionmaker


async def test_sqlite_and_postgresql_agree_on_the_top_five(tmp_path: Path) -> None:
    postgres_url = os.environ.get(POSTGRES_URL_ENV)
    if not postgres_url:
        pytest.skip(POSTGRES_SKIP_REASON)
    from tests.conftest import _reset_postgres

    await _reset_postgres(postgres_url)
    lite = await _seeded(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    pg = await _seeded(postgres_url)
    try:
        for query in AGREEMENT_QUERIES:
            on_sqlite, on_postgres = await top(lite, query), await top(pg, query)
            assert on_sqlite, query
            assert len(set(on_sqlite) & set(on_postgres)) >= min(4, len(on_sqlite)), (
                query,
                on_sqlite,
                on_postgres,
            )
    finally:
        for sessions in (lite, pg):
            bind = sessions.kw["bind"]
            await bind.dispose()


# --- acceptance 3 (storage level): hostile queries --------------------------------------------


async def test_hostile_queries_never_raise_or_change_meaning(catalogue: Sessions) -> None:
    assert len(HOSTILE_QUERIES) >= 50
    for raw in HOSTILE_QUERIES:
        query = parse_query(raw)
        assert len(query.terms) <= MAX_QUERY_TERMS
        for term in (t for word in query.terms for alt in word.alternatives for t in alt):
            assert term.isalnum(), (raw, term)
        async with catalogue() as session:
            await search.search(session=session, query=query, limit=5)
            await search.search(session=session, query=query, offset=5, limit=5)


async def test_operators_are_plain_words(catalogue: Sessions) -> None:
    # As an operator "OR" would find both papers at once; as a word, no paper has both
    # names, and only the fallback to "some of the words" finds them.
    async with catalogue() as session:
        page = await search.search(session=session, query=parse_query("Awaker2.5-VL OR Mixtral"))
    assert page.relaxed
    assert await top(catalogue, '"Awaker2.5-VL') == [AWAKER]
    assert await top(catalogue, "Awaker2.5-VL*") == [AWAKER]
    assert await top(catalogue, "-Awaker2.5-VL") == [AWAKER]


# --- the index follows the papers -------------------------------------------------------------

DAY = dt.date(2024, 12, 19)


def entry(pid: str, title: str, abstract: str, tags: tuple[str, ...] = ()) -> CatalogEntry:
    return CatalogEntry(
        paper=Paper(
            id=pid,
            title=title,
            abstract=abstract,
            listed_on=DAY,
            source=Source.HF,
            url=f"https://huggingface.co/papers/{pid}",
        ),
        tags=tags,
    )


async def test_new_summaries_tags_and_upgrades_are_searchable(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session, session.begin():
        await catalog.upsert_papers(
            session=session, entries=[entry("2501.00001", "Sparse Routers", "We route tokens.")]
        )
    assert await top(sessionmaker, "sparse routers") == ["2501.00001"]
    assert await top(sessionmaker, "маршрутизация") == []

    async with sessionmaker() as session, session.begin():
        await catalog.save_summaries(
            session=session,
            updates=[
                catalog.SummaryUpdate(
                    "2501.00001", "Разреженные маршрутизаторы", "We route.", SummaryStatus.FALLBACK
                )
            ],
        )
    assert await top(sessionmaker, "маршрутизаторы") == ["2501.00001"]

    # The LLM answers later: the fallback is upgraded, and the index with it.
    async with sessionmaker() as session, session.begin():
        await catalog.save_summaries(
            session=session,
            updates=[
                catalog.SummaryUpdate(
                    "2501.00001",
                    "Разреженные маршрутизаторы",
                    "Маршрутизация токенов между экспертами.",
                    SummaryStatus.DONE,
                )
            ],
        )
    assert await top(sessionmaker, "маршрутизация токенов") == ["2501.00001"]

    async with sessionmaker() as session, session.begin():
        await catalog.add_tags(session=session, tags={"2501.00001": ["moe"]})
    assert await top(sessionmaker, "#moe") == ["2501.00001"]
    assert await top(sessionmaker, "смесь экспертов") == ["2501.00001"]  # the tag's name

    # A re-run of ingest adds tags too and leaves the rest as it was.
    async with sessionmaker() as session, session.begin():
        await catalog.upsert_papers(
            session=session,
            entries=[entry("2501.00001", "Sparse Routers", "We route tokens.", ("llm",))],
        )
    assert await top(sessionmaker, "#llm маршрутизация") == ["2501.00001"]


async def test_a_deleted_paper_leaves_the_index(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session, session.begin():
        await catalog.upsert_papers(
            session=session, entries=[entry("2501.00002", "Vanishing Paper", "Gone soon.")]
        )
        await session.execute(text("DELETE FROM papers WHERE id = '2501.00002'"))
    assert await top(sessionmaker, "vanishing") == []
    async with sessionmaker() as session:
        left = await session.scalar(text("SELECT count(*) FROM search_index"))
    assert left == 0


async def test_the_migration_indexes_papers_stored_before_it(empty_db_url: str) -> None:
    config = alembic_config(empty_db_url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(PaperRow.__table__),  # type: ignore[arg-type]
                [
                    {
                        "id": AWAKER,
                        "title": "Awaker2.5-VL: Stably Scaling MLLMs with Mixture of Experts",
                        "abstract": "We propose Awaker2.5-VL.",
                        "authors": [],
                        "listed_on": DAY,
                        "source": "hf",
                        "url": "https://huggingface.co/papers/2411.10669",
                        "title_ru": "Awaker2.5-VL: смесь экспертов",
                        "summary_ru": "Смесь экспертов для мультимодальных моделей.",
                        "summary_status": "done",
                        "ingested_at": dt.datetime(2024, 12, 19, tzinfo=dt.UTC),
                        "updated_at": dt.datetime(2024, 12, 19, tzinfo=dt.UTC),
                    }
                ],
            )
            await connection.execute(
                insert(PaperTag.__table__),  # type: ignore[arg-type]
                [{"paper_id": AWAKER, "tag": "moe"}],
            )
        await upgrade_async(empty_db_url)
        sessions = create_sessionmaker(engine)
        assert await top(sessions, "мультимодальная модель") == [AWAKER]
        assert await top(sessions, "#moe") == [AWAKER]
    finally:
        await engine.dispose()


async def test_rebuild_reindexes_everything(catalogue: Sessions) -> None:
    async with catalogue() as session, session.begin():
        await session.execute(text("DELETE FROM search_index"))
    assert await top(catalogue, "смесь экспертов") == []
    async with catalogue() as session, session.begin():
        assert await search.rebuild(session=session) == len(load_search_papers())
    assert AWAKER in await top(catalogue, "смесь экспертов")


# --- saved queries behind paging buttons ------------------------------------------------------


async def test_saved_queries_have_short_stable_ids(sessionmaker: Sessions) -> None:
    now = dt.datetime(2024, 12, 19, 9, tzinfo=dt.UTC)
    async with sessionmaker() as session, session.begin():
        first = await search.remember_query(session=session, text_="смесь экспертов", now=now)
        again = await search.remember_query(session=session, text_="смесь экспертов", now=now)
        other = await search.remember_query(session=session, text_="moe", now=now)
    assert first == again != other
    assert len(first.encode()) <= 16
    async with sessionmaker() as session:
        assert await search.recall_query(session=session, query_id_=first) == "смесь экспертов"
        assert await search.recall_query(session=session, query_id_="nope") is None

    # Unused for longer than the TTL, a query is forgotten when another one is saved.
    later = now + search.QUERY_TTL + dt.timedelta(days=1)
    async with sessionmaker() as session, session.begin():
        await search.remember_query(session=session, text_="moe", now=later)
    async with sessionmaker() as session:
        assert await search.recall_query(session=session, query_id_=first) is None


# --- the tokenizer ------------------------------------------------------------------------------


def test_terms_are_stemmed_by_script_and_made_of_letters_and_digits() -> None:
    assert terms("Мультимодальных моделей") == terms("мультимодальная модель")
    assert terms("Experts") == terms("expert")
    assert terms("ёлка") == terms("елка")
    assert "internvl28b" in terms("InternVL2-8B")
    assert {"internvl2", "8b", "internvl"} <= set(terms("InternVL2-8B"))
    assert all(term.isalnum() for term in terms("a_b-c.d \"e\" 'f' *g* (h) ^i ~j k:l"))


def test_a_query_is_capped() -> None:
    query = parse_query(" ".join(f"слово{i}" for i in range(100)))
    assert len(query.terms) == MAX_QUERY_TERMS
    assert len(parse_query("x" * 10_000).text) <= 256


def test_hashtags_become_tag_filters_and_unknown_ones_words() -> None:
    query = parse_query("#MoE #мультимодальные роутинг #internvl2")
    assert query.tags == ("moe", "mllm")
    assert [alt for word in query.terms for alt in word.alternatives] == [
        (terms("роутинг")[0],),
        ("internvl2",),
    ]
