"""HF Daily Papers and arXiv: parsing every real shape, errors, etiquette, and merging.

Sources talk to FakeSources, a real HTTP server on 127.0.0.1 fed from tests/fixtures/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tenacity import RetryCallState, Retrying, wait_none
from tenacity.wait import WaitBaseT

from content.links import find_code_url, find_project_url
from content.models import Paper, Source
from content.sources import SourceError, merge_papers, normalize_arxiv_id
from content.sources.arxiv import (
    ArxivSource,
    build_search_query,
    default_backoff,
    make_arxiv_client,
    parse_feed,
)
from content.sources.hf_daily import fetch_day, parse_daily_papers
from tests.fake_sources import ARXIV_PATH, HF_PATH, FakeSources

FIXTURES = Path(__file__).parent / "fixtures"
DAY = dt.date(2024, 12, 19)
HF_BYTES = (FIXTURES / "hf_daily_2024-12-19.json").read_bytes()
ARXIV_BYTES = (FIXTURES / "arxiv_cs_sample.xml").read_bytes()
BOT_UA = "ai-digest-bot/0.1 (+https://github.com/ai-digest-bot)"

SEEDS = {
    "2412.13871": (
        "LLaVA-UHD v2: an MLLM Integrating High-Resolution Feature Pyramid via Hierarchical "
        "Window Transformer",
        "Vision transformers (ViTs) are widely employed in multimodal large language models",
        "https://github.com/thunlp/LLaVA-UHD",
    ),
    "2412.09585": (
        "OLA-VLM: Elevating Visual Perception in Multimodal LLMs with Auxiliary Embedding "
        "Distillation",
        "The standard practice for developing contemporary MLLMs is to feed features",
        "https://github.com/SHI-Labs/OLA-VLM",
    ),
    "2411.15296": (
        "MME-Survey: A Comprehensive Survey on Evaluation of Multimodal LLMs",
        "As a prominent direction of Artificial General Intelligence (AGI), Multimodal Large",
        None,
    ),
    "2411.10442": (
        "Enhancing the Reasoning Ability of Multimodal Large Language Models via Mixed "
        "Preference Optimization",
        "Existing open-source multimodal large language models (MLLMs) generally follow",
        None,
    ),
    "2411.10669": (
        "Awaker2.5-VL: Stably Scaling MLLMs with Parameter-Efficient Mixture of Experts",
        "As the research of Multimodal Large Language Models (MLLMs) becomes popular",
        "https://github.com/MetabrainAGI/Awaker",
    ),
    "2411.02359": (
        "DeeR-VLA: Dynamic Inference of Multimodal Large Language Models for Efficient Robot "
        "Execution",
        "MLLMs have demonstrated remarkable comprehension and reasoning capabilities",
        "https://github.com/yueyang130/DeeR-VLA",
    ),
}


def hf_day() -> dict[str, Paper]:
    result = parse_daily_papers(json.loads(HF_BYTES), DAY)
    return {paper.id: paper for paper in result.papers}


def paper_item(**paper: object) -> dict[str, object]:
    """A minimal 2024-shaped item, with `paper` fields overridden."""
    fields: dict[str, object] = {
        "id": "2412.00001",
        "authors": [{"_id": "a1", "name": "Ada Lovelace", "hidden": False}],
        "publishedAt": "2024-12-18T10:00:00.000Z",
        "title": "A Title",
        "summary": "An abstract.",
        "upvotes": 3,
        "discussionId": "d1",
    }
    fields.update(paper)
    return {"paper": fields, "publishedAt": "2024-12-19T01:00:00.000Z", "title": "A Title"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSources]:
    async with FakeSources() as server:
        server.hf_days[DAY] = HF_BYTES
        server.arxiv_response = ARXIV_BYTES
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as http:
        yield http


def arxiv_source(
    client: httpx.AsyncClient,
    fake: FakeSources,
    *,
    period: float = 0.01,
    backoff: WaitBaseT | None = None,
    attempts: int = 4,
    page_size: int = 50,
    max_results: int = 1000,
) -> ArxivSource:
    """An ArxivSource on the fake with test-sized pacing and no backoff unless given."""
    return ArxivSource(
        client,
        fake.arxiv_url,
        ["cs.CL", "cs.CV", "cs.LG"],
        period=period,
        backoff=backoff if backoff is not None else wait_none(),
        attempts=attempts,
        page_size=page_size,
        max_results=max_results,
    )


# --- HF: parsing the real shapes ---------------------------------------------------------------


def test_hf_day_fixture_gives_ten_papers_and_reports_the_two_broken_items():
    result = parse_daily_papers(json.loads(HF_BYTES), DAY)

    assert len(result.papers) == 10
    assert [(s.index, s.reason) for s in result.skipped] == [
        (10, "missing paper.id"),
        (11, "missing abstract (summary)"),
    ]
    assert result.skipped[1].id == "2412.13795"


def test_seed_papers_have_their_ids_titles_abstracts_and_code_links():
    papers = hf_day()

    for paper_id, (title, abstract_start, code_url) in SEEDS.items():
        paper = papers[paper_id]
        assert paper.title == title
        assert paper.abstract.startswith(abstract_start)
        assert find_code_url(github_repo=paper.github_repo, texts=[paper.abstract]) == code_url


def test_2024_item_has_arxiv_wraps_joined_and_no_hf_enrichment():
    ola = hf_day()["2412.09585"]

    assert "\n" not in ola.title and "  " not in ola.title
    assert "\n" not in ola.abstract and "  " not in ola.abstract
    assert ola.abstract.endswith(
        "Our code is open-sourced at https://github.com/SHI-Labs/OLA-VLM ."
    )
    assert ola.github_repo is None and ola.project_page is None and ola.ai_keywords == ()
    assert ola.authors == (
        "Jitesh Jain",
        "Zhengyuan Yang",
        "Humphrey Shi",
        "Jianfeng Gao",
        "Jianwei Yang",
    )
    assert ola.upvotes == 15
    assert ola.published_at == dt.datetime(2024, 12, 12, 18, 55, 18, tzinfo=dt.UTC)
    assert ola.listed_on == DAY
    assert ola.source is Source.HF
    assert ola.url == "https://huggingface.co/papers/2412.09585"


def test_2026_item_keeps_github_repo_project_page_keywords_and_upvotes():
    gpassk = hf_day()["2412.13147"]

    assert gpassk.github_repo == "https://github.com/open-compass/GPassK"
    assert gpassk.project_page == "https://open-compass.github.io/GPassK/"
    assert "G-Pass@k" in gpassk.ai_keywords
    assert gpassk.upvotes == 72
    assert find_project_url(project_page=gpassk.project_page, texts=[gpassk.abstract]) == (
        "https://open-compass.github.io/GPassK/"
    )


def test_2026_item_with_null_enrichment_fields_has_empty_ones():
    company = hf_day()["2412.14161"]

    assert company.github_repo is None
    assert company.project_page is None
    assert company.ai_keywords == ()
    assert len(company.authors) == 21


def test_authors_hf_hides_are_left_out():
    mpo = hf_day()["2411.10442"]

    assert mpo.authors.count("Weiyun Wang") == 1
    assert len(mpo.authors) == 11


def test_paper_fields_win_over_the_outer_item():
    item = paper_item(title="Inner\n  Title", summary="Inner\nabstract.", githubRepo=None)
    item.update(title="Outer Title", summary="Outer abstract.", githubRepo="https://github.com/o/r")

    [paper] = parse_daily_papers([item], DAY).papers

    assert paper.title == "Inner Title"
    assert paper.abstract == "Inner abstract."
    assert paper.github_repo == "https://github.com/o/r"  # the inner one is null


def test_outer_fields_fill_in_what_the_paper_lacks():
    item = paper_item(title=None, summary="")
    item.update(title="Outer Title", summary="Outer abstract.")

    [paper] = parse_daily_papers([item], DAY).papers

    assert (paper.title, paper.abstract) == ("Outer Title", "Outer abstract.")


def test_a_bare_paper_object_is_accepted():
    bare = paper_item(ai_keywords=["hallucinations", " binary\nclassification "])["paper"]

    [paper] = parse_daily_papers([bare], DAY).papers

    assert paper.id == "2412.00001"
    assert paper.ai_keywords == ("hallucinations", "binary classification")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2411.10669", "2411.10669"),
        ("2411.10669v2", "2411.10669"),
        ("hf2411.10442", "2411.10442"),
        ("https://arxiv.org/abs/hf2411.10442", "2411.10442"),
        ("http://arxiv.org/abs/2111.13282v1", "2111.13282"),
        ("https://arxiv.org/pdf/2111.13282v1.pdf", "2111.13282"),
        ("https://huggingface.co/papers/2412.13871", "2412.13871"),
        ("arXiv:2412.09585", "2412.09585"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("http://arxiv.org/abs/math.GT/0309136v1", "math.GT/0309136"),
        (" 1701.06264v6 ", "1701.06264"),
        ("not-an-id", None),
        ("12345", None),
    ],
)
def test_arxiv_ids_are_normalised(raw: str, expected: str | None):
    assert normalize_arxiv_id(raw) == expected


def test_hf_ids_with_version_prefix_or_url_are_normalised():
    items = [paper_item(id="hf2411.10442v2"), paper_item(id="https://arxiv.org/abs/2411.10669v1")]

    assert [p.id for p in parse_daily_papers(items, DAY).papers] == ["2411.10442", "2411.10669"]


def test_odd_items_are_skipped_with_a_reason_and_never_raise():
    untitled = paper_item(title="   ")
    del untitled["title"]
    payload = [
        None,
        "2412.00001",
        {"paper": None, "title": "No paper"},
        paper_item(id="not-an-id"),
        untitled,
        paper_item(authors="Ada", upvotes="many", publishedAt="yesterday", ai_keywords="x"),
        paper_item(),
    ]

    result = parse_daily_papers(payload, DAY)

    assert [s.reason for s in result.skipped] == [
        "item is NoneType, not an object",
        "item is str, not an object",
        "missing paper.id",
        "paper.id 'not-an-id' is not an arXiv id",
        "missing title",
        "listed twice",
    ]
    [paper] = result.papers
    assert (paper.authors, paper.upvotes, paper.published_at, paper.ai_keywords) == (
        (),
        0,
        None,
        (),
    )


def test_a_payload_that_is_not_a_list_is_a_source_error():
    with pytest.raises(SourceError, match=r"HF daily papers for 2024-12-19: expected a JSON list"):
        parse_daily_papers({"error": "Invalid date"}, DAY)


# --- HF: fetching ------------------------------------------------------------------------------


async def test_fetch_day_asks_for_the_date_once_with_the_bot_user_agent(fake, client):
    papers = await fetch_day(client, fake.hf_url, DAY, wait=wait_none())

    assert len(papers) == 10
    [request] = fake.requests_to(HF_PATH)
    assert request.query["date"] == "2024-12-19"
    assert request.user_agent == BOT_UA


async def test_an_empty_day_is_an_empty_list(fake, client):
    assert await fetch_day(client, fake.hf_url, dt.date(2024, 12, 21), wait=wait_none()) == []


async def test_503_and_429_are_retried_until_the_list_comes(fake, client):
    fake.fail_next(HF_PATH, 503, 429)

    papers = await fetch_day(client, fake.hf_url, DAY, wait=wait_none())

    assert len(papers) == 10
    assert [r.status for r in fake.requests_to(HF_PATH)] == [503, 429, 200]


async def test_persistent_503_is_a_source_error_after_the_attempts(fake, client):
    fake.always_status[HF_PATH] = 503

    with pytest.raises(SourceError, match=r"^HF daily papers for 2024-12-19: HTTP 503 after 3"):
        await fetch_day(client, fake.hf_url, DAY, attempts=3, wait=wait_none())
    assert len(fake.requests_to(HF_PATH)) == 3


async def test_a_client_error_is_not_retried(fake, client):
    fake.always_status[HF_PATH] = 400

    with pytest.raises(SourceError, match=r"HF daily papers for 2024-12-19: HTTP 400"):
        await fetch_day(client, fake.hf_url, DAY, wait=wait_none())
    assert len(fake.requests_to(HF_PATH)) == 1


async def test_timeouts_are_retried_then_a_source_error(fake):
    fake.delay[HF_PATH] = 5.0

    async with httpx.AsyncClient(timeout=0.1) as impatient:
        with pytest.raises(SourceError, match=r"HF daily papers for 2024-12-19: timed out after 2"):
            await fetch_day(impatient, fake.hf_url, DAY, attempts=2, wait=wait_none())
    assert len(fake.requests_to(HF_PATH)) == 2


async def test_invalid_json_is_a_source_error(fake, client):
    fake.hf_days[DAY] = b"<html>Bad gateway</html>"

    with pytest.raises(SourceError, match=r"^HF daily papers for 2024-12-19: invalid JSON"):
        await fetch_day(client, fake.hf_url, DAY, wait=wait_none())


async def test_a_non_list_json_answer_is_a_source_error(fake, client):
    fake.hf_days[DAY] = {"error": "Something changed"}

    with pytest.raises(SourceError, match="expected a JSON list of items, got dict"):
        await fetch_day(client, fake.hf_url, DAY, wait=wait_none())


async def test_skipped_items_are_logged(fake, client, caplog):
    await fetch_day(client, fake.hf_url, DAY, wait=wait_none())

    assert "skipped item 10 (id None): missing paper.id" in caplog.text
    assert "skipped item 11 (id 2412.13795): missing abstract" in caplog.text


# --- arXiv: parsing ----------------------------------------------------------------------------


def test_arxiv_feed_gives_clean_papers():
    papers = {p.id: p for p in parse_feed(ARXIV_BYTES).papers}

    assert list(papers) == [
        "2412.14161",
        "2412.13871",
        "2412.13746",
        "2412.13147",
        "2412.12571",
        "2412.10360",
    ]
    company = papers["2412.14161"]
    assert company.title == (
        "TheAgentCompany: Benchmarking LLM Agents on Consequential Real World Tasks"
    )
    assert company.abstract.startswith("We interact with computers on an everyday basis, be it")
    assert "\n" not in company.abstract and "  " not in company.abstract
    assert company.published_at == dt.datetime(2024, 12, 18, 18, 55, 40, tzinfo=dt.UTC)
    assert company.listed_on == dt.date(2024, 12, 18)
    assert company.source is Source.ARXIV
    assert company.url == "https://arxiv.org/abs/2412.14161"
    assert company.authors[0] == "Frank F. Xu" and len(company.authors) == 21

    gpassk = papers["2412.13147"]
    assert gpassk.categories == ("cs.AI", "cs.CL")
    assert gpassk.comment == (
        "Preprint, work in progress. The benchmark and detailed results are available at "
        r"\url{https://github.com/open-compass/GPassK}"
    )
    assert find_code_url(github_repo=None, texts=[None, gpassk.comment]) == (
        "https://github.com/open-compass/GPassK"
    )
    chatdit = papers["2412.12571"]
    assert find_project_url(project_page=None, texts=[chatdit.abstract, chatdit.comment]) == (
        "https://ali-vilab.github.io/ChatDiT-Page/"
    )
    assert papers["2412.13871"].comment is None


def feed(*entries: str) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<feed xmlns="http://www.w3.org/2005/Atom">\n'
        b'  <title type="html">ArXiv Query: search_query=cat:hep-th</title>\n'
        b"  <id>http://arxiv.org/api/x</id>\n"
        b"  <updated>2024-12-19T00:00:00-05:00</updated>\n"
        + "".join(entries).encode()
        + b"</feed>\n"
    )


def test_old_style_arxiv_ids_keep_their_archive():
    entry = """<entry>
    <id>http://arxiv.org/abs/hep-th/9901001v2</id>
    <published>1999-01-01T00:00:01Z</published>
    <title>Old
  Style</title>
    <summary>  An old
paper.
</summary>
    <author><name>A. Physicist</name></author>
  </entry>
"""
    [paper] = parse_feed(feed(entry)).papers

    assert paper.id == "hep-th/9901001"
    assert paper.url == "https://arxiv.org/abs/hep-th/9901001"
    assert (paper.title, paper.abstract) == ("Old Style", "An old paper.")


def test_a_feed_without_entries_is_empty():
    result = parse_feed(feed())

    assert result.papers == [] and result.skipped == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ARXIV_BYTES[: len(ARXIV_BYTES) // 2], "arXiv API: broken Atom XML"),
        (b"<html><body>Rate exceeded.</body></html>", "arXiv API: the response is not an Atom"),
        (b"", "arXiv API: the response is not an Atom"),
    ],
    ids=["truncated", "html", "empty"],
)
def test_a_broken_or_foreign_response_is_a_source_error(body: bytes, message: str):
    with pytest.raises(SourceError, match=message):
        parse_feed(body)


def test_an_api_error_entry_is_a_source_error():
    error = """<entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345v7</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345v7</summary>
  </entry>
"""
    with pytest.raises(SourceError, match="arXiv API error: incorrect id format"):
        parse_feed(feed(error))


def test_an_entry_without_an_id_is_skipped():
    entry = "<entry><title>No id</title><summary>x</summary></entry>"

    result = parse_feed(feed(entry))

    assert result.papers == [] and result.skipped[0].reason.startswith("id None")


# --- arXiv: fetching and etiquette ---------------------------------------------------------


async def test_fetch_since_keeps_papers_first_published_on_or_after_the_day(fake, client):
    papers = await arxiv_source(client, fake).fetch_since(dt.date(2024, 12, 17))

    assert [p.id for p in papers] == [
        "2412.14161",
        "2412.13871",
        "2412.13746",
        "2412.13147",
        "2412.12571",
    ]
    [request] = fake.requests_to(ARXIV_PATH)
    assert request.query == {
        "search_query": "cat:cs.CL OR cat:cs.CV OR cat:cs.LG",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": "0",
        "max_results": "50",
    }
    assert request.user_agent == BOT_UA


def test_search_query_ors_the_categories():
    assert build_search_query(["cs.CL", "cs.CV"]) == "cat:cs.CL OR cat:cs.CV"


async def test_paging_stops_at_the_first_page_reaching_before_the_day(fake, client):
    source = arxiv_source(client, fake, page_size=2)

    papers = await source.fetch_since(dt.date(2024, 12, 17))

    assert len(papers) == 5
    assert [r.query["start"] for r in fake.requests_to(ARXIV_PATH)] == ["0", "2", "4"]


async def test_paging_stops_at_the_cap(fake, client):
    source = arxiv_source(client, fake, page_size=2, max_results=3)

    papers = await source.fetch_since(dt.date(2024, 12, 1))

    assert len(papers) == 3
    pages = [(r.query["start"], r.query["max_results"]) for r in fake.requests_to(ARXIV_PATH)]
    assert pages == [("0", "2"), ("2", "1")]


async def test_an_empty_listing_is_an_empty_result(fake, client):
    fake.arxiv_response = feed()

    assert await arxiv_source(client, fake).fetch_since(DAY) == []


async def test_requests_are_at_least_one_period_apart(fake, client):
    period = 0.3
    source = arxiv_source(client, fake, page_size=2, period=period)

    await source.fetch_since(dt.date(2024, 12, 1))

    starts = [r.started for r in fake.requests_to(ARXIV_PATH)]
    assert len(starts) == 4  # three full pages, then the empty one that ends the listing
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= period * 0.9


async def test_requests_are_sent_one_at_a_time_even_from_concurrent_callers(fake, client):
    fake.delay[ARXIV_PATH] = 0.1
    source = arxiv_source(client, fake, page_size=2)

    await asyncio.gather(
        source.fetch_since(dt.date(2024, 12, 1)), source.fetch_since(dt.date(2024, 12, 1))
    )

    assert len(fake.requests_to(ARXIV_PATH)) == 8
    assert fake.max_in_flight[ARXIV_PATH] == 1


async def test_the_arxiv_client_uses_one_connection_and_names_the_bot(fake):
    async with make_arxiv_client(timeout=2.0) as arxiv_client:
        source = ArxivSource(arxiv_client, fake.arxiv_url, period=0.01, page_size=50)
        assert len(await source.fetch_since(dt.date(2024, 12, 17))) == 5

    assert fake.requests_to(ARXIV_PATH)[0].user_agent == BOT_UA


async def test_429_and_503_back_off_with_the_injected_wait(fake, client):
    fake.fail_next(ARXIV_PATH, 429, 503)
    waited_after: list[int] = []

    def backoff(state: RetryCallState) -> float:
        waited_after.append(state.attempt_number)
        return 0.05

    papers = await arxiv_source(client, fake, backoff=backoff).fetch_since(dt.date(2024, 12, 17))

    assert len(papers) == 5
    assert waited_after == [1, 2]
    assert [r.status for r in fake.requests_to(ARXIV_PATH)] == [429, 503, 200]


def test_the_default_backoff_is_30_seconds_times_the_attempt():
    backoff = default_backoff()
    waits = []
    for attempt in (1, 2, 3):
        state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        waits.append(backoff(state))

    assert waits == [30, 60, 90]


async def test_persistent_503_from_arxiv_is_a_source_error(fake, client):
    fake.always_status[ARXIV_PATH] = 503

    with pytest.raises(SourceError, match=r"^arXiv API .*HTTP 503 after 2 attempts"):
        await arxiv_source(client, fake, attempts=2).fetch_since(DAY)
    assert len(fake.requests_to(ARXIV_PATH)) == 2


async def test_broken_xml_from_arxiv_is_a_source_error(fake, client):
    fake.arxiv_response = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entr'

    with pytest.raises(SourceError, match="arXiv API: broken Atom XML"):
        await arxiv_source(client, fake).fetch_since(DAY)


async def test_arxiv_timeouts_are_a_source_error(fake):
    fake.delay[ARXIV_PATH] = 5.0

    async with httpx.AsyncClient(timeout=0.1) as impatient:
        with pytest.raises(SourceError, match=r"arXiv API .*timed out after 2 attempts"):
            await arxiv_source(impatient, fake, attempts=2).fetch_since(DAY)


# --- merging -------------------------------------------------------------------------------


def test_a_paper_found_by_both_sources_is_one_paper_with_the_best_of_both():
    hf = list(hf_day().values())
    arxiv = parse_feed(ARXIV_BYTES).papers

    merged = merge_papers(hf, arxiv)

    assert [p.id for p in merged] == [p.id for p in hf] + ["2412.10360"]
    llava = next(p for p in merged if p.id == "2412.13871")
    assert llava.source is Source.HF
    assert llava.url == "https://huggingface.co/papers/2412.13871"
    assert llava.upvotes == 42
    assert llava.github_repo == "https://github.com/thunlp/LLaVA-UHD"
    assert llava.listed_on == DAY
    assert llava.categories == ("cs.CV", "cs.AI", "cs.CL")
    gpassk = next(p for p in merged if p.id == "2412.13147")
    assert gpassk.comment is not None and gpassk.comment.startswith("Preprint, work in progress")
    assert "LiveMathBench" in gpassk.ai_keywords
    apollo = merged[-1]
    assert apollo.source is Source.ARXIV and apollo.upvotes == 0


def test_merge_order_follows_first_appearance_whichever_source_comes_first():
    hf = list(hf_day().values())
    arxiv = parse_feed(ARXIV_BYTES).papers

    merged = merge_papers(arxiv, hf)

    assert [p.id for p in merged][:6] == [p.id for p in arxiv]
    assert next(p for p in merged if p.id == "2412.13871").upvotes == 42


def test_within_one_source_the_first_listing_wins():
    [today] = parse_daily_papers([paper_item(upvotes=9)], DAY).papers
    [yesterday] = parse_daily_papers([paper_item(upvotes=4)], DAY - dt.timedelta(days=1)).papers

    assert merge_papers([today], [yesterday]) == [today]


# --- architecture --------------------------------------------------------------------------


def test_content_imports_neither_telegram_storage_nor_bot():
    code = (
        "import sys, content.links, content.sources.hf_daily, content.sources.arxiv\n"
        "ours = {'telegram', 'storage', 'bot'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ours)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
