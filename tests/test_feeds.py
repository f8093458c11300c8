"""A tag's feed: which papers it holds, when it counts as changed, and how its Atom reads."""

from __future__ import annotations

import datetime as dt

import feedparser  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content import taxonomy
from content.feeds import FeedPaper, build_feed
from content.models import CatalogEntry, Source, SummaryStatus
from content.models import Paper as SourcePaper
from storage.feeds import feed_papers, feed_version
from storage.papers import SummaryUpdate, save_summaries, upsert_papers

Sessions = async_sessionmaker[AsyncSession]
DAY = dt.date(2024, 12, 19)
NOON = dt.datetime(2024, 12, 19, 12, tzinfo=dt.UTC)
MLLM = taxonomy.get_tag("mllm")
assert MLLM is not None
HOME = "https://t.me/digest_bot?start=sub_mllm"


def entry(paper_id: str, *, day: dt.date = DAY, upvotes: int = 0, code: str | None = None):
    return CatalogEntry(
        paper=SourcePaper(
            id=paper_id,
            title=f"Paper {paper_id}",
            abstract="An abstract.",
            listed_on=day,
            source=Source.HF,
            url=f"https://huggingface.co/papers/{paper_id}",
            authors=("Ann Author",),
            upvotes=upvotes,
        ),
        code_url=code,
        tags=("mllm",),
    )


async def store(sessionmaker: Sessions, *entries: CatalogEntry, now: dt.datetime = NOON) -> None:
    async with sessionmaker() as session, session.begin():
        await upsert_papers(session=session, entries=entries, now=now)


async def summarise(sessionmaker: Sessions, *paper_ids: str, now: dt.datetime = NOON) -> None:
    updates = [
        SummaryUpdate(pid, f"Статья {pid}", "Кратко по-русски.", SummaryStatus.DONE)
        for pid in paper_ids
    ]
    async with sessionmaker() as session, session.begin():
        await save_summaries(session=session, updates=updates, now=now)


async def test_the_feed_holds_the_latest_ready_papers_latest_day_first_then_by_upvotes(
    sessionmaker: Sessions,
) -> None:
    yesterday = DAY - dt.timedelta(days=1)
    await store(
        sessionmaker,
        entry("2412.00001", day=yesterday, upvotes=90),
        entry("2412.00002", upvotes=3),
        entry("2412.00003", upvotes=40),
        entry("2412.00004", upvotes=99),  # its summary is still being written
    )
    await summarise(sessionmaker, "2412.00001", "2412.00002", "2412.00003")

    async with sessionmaker() as session:
        papers = await feed_papers(session=session, tag="mllm")
        other = await feed_papers(session=session, tag="agents")

    assert [p.id for p in papers] == ["2412.00003", "2412.00002", "2412.00001"]
    assert papers[0].title_ru == "Статья 2412.00003"
    assert other == []


async def test_the_feed_stops_at_fifty_papers(sessionmaker: Sessions) -> None:
    ids = [f"2412.{n:05d}" for n in range(60)]
    await store(sessionmaker, *(entry(pid, upvotes=n) for n, pid in enumerate(ids)))
    await summarise(sessionmaker, *ids)

    async with sessionmaker() as session:
        papers = await feed_papers(session=session, tag="mllm")

    assert len(papers) == 50
    assert papers[0].id == ids[-1]


async def test_the_version_changes_when_a_paper_gets_ready_or_its_code_appears(
    sessionmaker: Sessions,
) -> None:
    async with sessionmaker() as session:
        empty = await feed_version(session=session, tag="mllm")
    await store(sessionmaker, entry("2412.00001"), entry("2412.00002"))
    async with sessionmaker() as session:
        assert await feed_version(session=session, tag="mllm") == empty  # nothing ready yet

    await summarise(sessionmaker, "2412.00001")
    async with sessionmaker() as session:
        one = await feed_version(session=session, tag="mllm")
    assert one.papers == 1 and one != empty

    later = NOON + dt.timedelta(hours=2)
    await store(sessionmaker, entry("2412.00001", code="https://github.com/a/b"), now=later)
    async with sessionmaker() as session:
        with_code = await feed_version(session=session, tag="mllm")
        again = await feed_version(session=session, tag="mllm")
    assert with_code == (1, later)
    assert again == with_code


def feed_paper(paper_id: str, **changes: object) -> FeedPaper:
    values: dict[str, object] = {
        "id": paper_id,
        "title": "Video <Seal> & watermarks",
        "title_ru": "Video Seal: водяные знаки для видео",
        "summary_ru": "Встраивает незаметные водяные знаки & находит их.",
        "url": f"https://huggingface.co/papers/{paper_id}",
        "code_url": None,
        "project_url": None,
        "authors": ("Pierre Fernandez",),
        "listed_on": DAY,
        "updated_at": NOON,
    }
    values.update(changes)
    return FeedPaper(**values)  # type: ignore[arg-type]


def test_a_feed_keeps_the_order_given_and_escapes_what_papers_say() -> None:
    assert MLLM is not None
    body = build_feed(
        MLLM, [feed_paper("2412.00002"), feed_paper("2412.00001")], home_url=HOME, publisher="@b"
    )

    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert [e.id for e in parsed.entries] == [
        "https://arxiv.org/abs/2412.00002",
        "https://arxiv.org/abs/2412.00001",
    ]
    first = parsed.entries[0]
    assert first.title == "Video Seal: водяные знаки для видео"
    assert first.summary == "Встраивает незаметные водяные знаки & находит их."
    assert "<i>Video &lt;Seal&gt; &amp; watermarks</i>" in first.content[0].value
    assert parsed.feed.author == "@b"
    assert all(link.rel != "self" for link in parsed.feed.links)  # no PUBLIC_URL given


def test_control_characters_in_a_title_do_not_break_the_feed() -> None:
    assert MLLM is not None
    paper = feed_paper("2412.00001", title_ru="Заголовок\x0b с\x00 мусором", summary_ru=None)

    parsed = feedparser.parse(build_feed(MLLM, [paper], home_url=HOME, publisher="@b"))

    assert not parsed.bozo
    assert parsed.entries[0].title == "Заголовок с мусором"


def test_links_that_are_not_http_never_reach_the_feed() -> None:
    assert MLLM is not None
    paper = feed_paper(
        "2412.00001", url="javascript:alert(1)", code_url="javascript:alert(2)", project_url=None
    )

    body = build_feed(MLLM, [paper], home_url=HOME, publisher="@b")

    assert b"javascript" not in body
    assert feedparser.parse(body).entries[0].link == "https://arxiv.org/abs/2412.00001"


def test_the_same_papers_give_the_same_bytes_so_every_replica_gives_the_same_etag() -> None:
    assert MLLM is not None
    papers = [feed_paper("2412.00001")]

    assert build_feed(MLLM, papers, home_url=HOME, publisher="@b") == build_feed(
        MLLM, papers, home_url=HOME, publisher="@b"
    )
    assert build_feed(MLLM, [], home_url=HOME, publisher="@b") == build_feed(
        MLLM, [], home_url=HOME, publisher="@b"
    )
