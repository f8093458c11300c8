"""The morning digest, as a subscriber receives it through the fake Telegram."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from bot.app import DigestApp
from bot.context import Services
from bot.delivery import Deliverer, Run, RunLost
from content.matching import profile
from content.models import Source
from storage import digests
from storage.chats import get_chat
from storage.models import Chat
from tests.broadcast import papers_in
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources, hf_day
from tests.fake_telegram import FakeTelegram, RateLimit
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
MLLM_PAPERS = {"2412.13871", "2412.09585", "2411.15296", "2411.10442", "2411.10669", "2411.02359"}
READER, GAMER, BLOCKER = 501, 502, 503


@pytest.fixture
async def world(
    db_url: str,
) -> AsyncIterator[tuple[FakeTelegram, FakeSources, FakeLLM, Clock, DigestApp]]:
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))  # 08:50 in Moscow
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = FIXTURE.read_bytes()
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        async with running_bot(settings, clock=clock) as app:
            yield telegram, sources, llm, clock, app


async def set_chats(app: DigestApp, chat_ids: Iterable[int], **values: Any) -> None:
    """Set these chats' columns in the database, as a past (or corrupted) state."""
    async with app.bot_data.services.sessionmaker() as session, session.begin():
        await session.execute(update(Chat).where(Chat.id.in_(list(chat_ids))).values(**values))


async def say(telegram: FakeTelegram, chat_id: int, text: str) -> str:
    before = len(telegram.messages_to(chat_id))
    telegram.send_text(chat_id, text)
    return (await telegram.wait_for_messages(chat_id, before + 1))[before].plain


async def test_a_subscriber_gets_exactly_their_papers_at_their_minute_once(world):
    telegram, sources, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    reply = await say(telegram, READER, "/time 08:57")
    assert "08:57" in reply
    await say(telegram, GAMER, "/subscribe games")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    before = {chat: len(telegram.messages_to(chat)) for chat in (READER, GAMER)}

    clock.now = dt.datetime(2024, 12, 19, 5, 56, tzinfo=dt.UTC)  # 08:56: not yet
    await tick(app)
    assert len(telegram.messages_to(READER)) == before[READER]

    clock.now = dt.datetime(2024, 12, 19, 5, 57, 5, tzinfo=dt.UTC)  # 08:57 in Moscow
    await tick(app)
    digest = telegram.messages_to(READER)[before[READER] :]
    assert digest, "the reader got no digest"
    text = "\n".join(m.plain for m in digest)
    assert text.startswith("☀️ Дайджест на 19 декабря · #mllm · 6 статей")
    for message in digest:
        assert message.parse_mode == "HTML"
        assert (message.link_preview_options or {}).get("is_disabled") is True
    assert text.count("Обзор: ") == len(MLLM_PAPERS)
    assert "💻 thunlp/LLaVA-UHD" in text and "#mllm" in text
    assert "https://huggingface.co/papers/2411.10669" in digest[0].text
    assert len(telegram.messages_to(GAMER)) == before[GAMER]

    # A second tick in the same minute sends nothing more.
    await tick(app)
    assert len(telegram.messages_to(READER)) == before[READER] + len(digest)

    reply = await say(telegram, READER, "/digest")
    assert "Новых статей по вашим темам пока нет" in reply
    assert "завтра в 08:57" in reply

    # The next day only the new papers come.
    sources.hf_days[DAY + dt.timedelta(days=1)] = hf_day(
        ["A New Multimodal Large Language Model for Charts"], first_id="2412.20000"
    )
    clock.now = dt.datetime(2024, 12, 20, 4, 0, tzinfo=dt.UTC)
    await app.bot_data.services.ingestor.run([DAY + dt.timedelta(days=1)], [Source.HF])
    count = len(telegram.messages_to(READER))
    clock.now = dt.datetime(2024, 12, 20, 5, 57, 5, tzinfo=dt.UTC)
    await tick(app)
    [next_day] = telegram.messages_to(READER)[count:]
    assert "Дайджест на 20 декабря" in next_day.plain and "1 статья" in next_day.plain
    assert "A New Multimodal Large Language Model for Charts" in next_day.plain


async def test_digest_now_counts_as_todays_delivery(world):
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    count = len(telegram.messages_to(READER))
    telegram.send_text(READER, "/digest")
    messages = await telegram.wait_for_messages(READER, count + 1)
    assert "Дайджест на 19 декабря" in messages[count].plain

    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)  # 09:00 in Moscow
    await tick(app)
    assert len(telegram.messages_to(READER)) == count + 1


async def test_a_chat_that_blocked_the_bot_is_marked_inactive_and_others_still_get_theirs(world):
    telegram, _, _, clock, app = world
    for chat in (READER, BLOCKER):
        await say(telegram, chat, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    telegram.block_chat(BLOCKER)
    count = len(telegram.messages_to(READER))
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    await tick(app)
    assert len(telegram.messages_to(READER)) > count
    blocked_sends = [
        call for call in telegram.calls("sendMessage") if call.params.get("chat_id") == BLOCKER
    ]
    assert len(blocked_sends) == 2  # the /subscribe reply, then one digest attempt
    async with app.bot_data.services.sessionmaker() as session:
        row = await get_chat(session=session, chat_id=BLOCKER)
    assert row is not None and row.active is False


async def test_many_due_chats_get_one_digest_each_even_from_overlapping_ticks(world, monkeypatch):
    telegram, _, _, clock, app = world
    monkeypatch.setattr("bot.delivery.DUE_BATCH", 7)
    chats = range(9000, 9030)
    for chat in chats:
        await say(telegram, chat, "/subscribe moe")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    before = {chat: len(telegram.messages_to(chat)) for chat in chats}
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    # Two senders at once (a slow tick and the next one, or /digest) must not double up.
    await asyncio.gather(tick(app), tick(app))
    await tick(app)
    for chat in chats:
        [digest] = telegram.messages_to(chat)[before[chat] :]
        assert "Awaker2.5-VL" in digest.plain


async def test_chats_with_nothing_new_claimed_first_do_not_hold_back_those_after_them(
    world, monkeypatch
):
    # The first batches of the tick have nothing to send; the tick goes on to the reader.
    telegram, _, _, clock, app = world
    monkeypatch.setattr("bot.delivery.DUE_BATCH", 2)
    quiet = range(9100, 9105)
    for chat in quiet:
        await say(telegram, chat, "/subscribe healthcare")
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    await set_chats(app, quiet, next_digest_at=clock.now)
    before = {chat: len(telegram.messages_to(chat)) for chat in (*quiet, READER)}

    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    await tick(app)

    [digest] = telegram.messages_to(READER)[before[READER] :]
    assert set(papers_in(digest)) == MLLM_PAPERS
    assert all(len(telegram.messages_to(chat)) == before[chat] for chat in quiet)


async def held_up_at_nine(
    telegram: FakeTelegram, clock: Clock, app: DigestApp
) -> asyncio.Task[None]:
    """At 09:00 the reader's digest goes out, and Telegram makes it wait two seconds.

    Returns the delivery tick, once the digest is waiting.
    """
    telegram.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 2",
        chat_id=READER,
    )
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    delivery = asyncio.create_task(tick(app))
    await telegram.wait_until(lambda: telegram.too_many_requests == 1, 10)
    return delivery


async def test_digest_asked_while_yesterdays_late_digest_goes_out_is_not_sent_twice(world):
    # The bot was down at 09:00 yesterday; this morning it sends yesterday's digest late, and
    # Telegram holds it up for two seconds. The reader asks for /digest meanwhile.
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    await set_chats(app, [READER], next_digest_at=dt.datetime(2024, 12, 18, 6, 0, tzinfo=dt.UTC))
    count = len(telegram.messages_to(READER))
    delivery = await held_up_at_nine(telegram, clock, app)
    telegram.send_text(READER, "/digest")
    await telegram.wait_until(
        lambda: any("как раз отправляется" in m.plain for m in telegram.messages_to(READER)), 10
    )
    await delivery

    digests_sent = [m for m in telegram.messages_to(READER)[count:] if "Дайджест" in m.plain]
    [digest] = digests_sent
    assert set(papers_in(digest)) == MLLM_PAPERS


async def test_a_digest_whose_run_fails_to_end_keeps_its_record_and_is_not_sent_again(
    world, monkeypatch
):
    # The database fails just as the digest's run is being ended, after Telegram took the
    # message. The next sender resumes the run and finds nothing left to send.
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    count = len(telegram.messages_to(READER))
    real_finish = digests.finish_run
    failed: list[str] = []

    async def failing_once(**kwargs: Any) -> None:
        if not failed:
            failed.append(kwargs["status"])
            raise OperationalError("UPDATE digest_runs", {}, Exception("disk I/O error"))
        await real_finish(**kwargs)

    monkeypatch.setattr(digests, "finish_run", failing_once)
    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    await tick(app)
    clock.now += app.bot_data.services.settings.delivery_lease + dt.timedelta(seconds=1)
    await tick(app)

    assert failed == ["done"]
    [digest] = telegram.messages_to(READER)[count:]
    assert set(papers_in(digest)) == MLLM_PAPERS


HOSTILE_TITLE = 'Multimodal <script>alert("x")</script> & <b>MLLM</b> "quoted" <i <a href=x> #{n}'
HOSTILE_ABSTRACT = (
    'We study multimodal large language models <img src=x onerror="alert(1)"> & friends; '
    "a < b && c > d, </code> &amp; &lt;tag&gt; &#0; &nbsp; <tg-spoiler>. "
) * 22  # about 3,000 characters


def hostile_day(count: int) -> list[dict[str, Any]]:
    """A day of papers whose every text field is hostile to HTML, in HF's response format."""
    titles = [HOSTILE_TITLE.format(n=n) for n in range(count)]
    return hf_day(titles, first_id="2412.30000", abstract=HOSTILE_ABSTRACT)


async def test_forty_hostile_papers_arrive_as_valid_html_within_the_length_limit(db_url: str):
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = hostile_day(40)
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            digest_max_papers=50,
        )
        # Some summaries come back from the LLM just as hostile as the titles.
        answer = {
            "title_ru": 'Модель <script>x</script> & "кавычки" <',
            "summary_ru": "Авторы сравнивают a < b & c > d в <b>мультимодальных</b> моделях. " * 4,
            "tags": ["mllm", "<script>"],
        }
        llm.respond_next(json.dumps(answer, ensure_ascii=False), times=10)
        async with running_bot(settings, clock=clock) as app:
            await say(telegram, READER, "/subscribe mllm")
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            count = len(telegram.messages_to(READER))
            telegram.rate_limit = RateLimit()

            clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
            await tick(app)

    digest = telegram.messages_to(READER)[count:]
    # Flood limits are on, so a stall of the test process can still earn a 429 that the rate
    # limiter retries (test_broadcast_e2e bounds how often); what must never happen here is a
    # message refused for its markup or length.
    refused = [
        c for c in telegram.calls("sendMessage") if c.response and not c.ok and c.status != 429
    ]
    assert refused == []
    assert len(digest) > 1
    assert all(len(m.plain) <= 4096 and m.parse_mode == "HTML" for m in digest)
    text = "\n".join(m.plain for m in digest)
    assert text.startswith("☀️ Дайджест на 19 декабря · #mllm · 40 статей")
    # Markup in what the LLM wrote is dropped; every other character arrives as it was.
    assert text.count('Обзор: Multimodal & MLLM "quoted" <i #') == 30
    assert text.count('Модель & "кавычки" <') == 10
    assert "a < b & c > d" in text and "<script>" not in text
    assert len({p for m in digest for p in papers_in(m)}) == 40


async def test_each_zone_gets_its_digest_at_its_own_nine_across_the_new_york_dst_change(db_url):
    # New York leaves daylight saving time at 02:00 on 3 November 2024: its 09:00 moves from
    # 13:00 to 14:00 UTC. Moscow (UTC+3) and Vladivostok (UTC+10) keep their offsets.
    zones = {601: "Europe/Moscow", 602: "Asia/Vladivostok", 603: "America/New_York"}
    clock = Clock(dt.datetime(2024, 10, 31, 12, 0, tzinfo=dt.UTC))
    days = [dt.date(2024, 11, d) for d in range(1, 6)]
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        for n, day in enumerate(days):
            sources.hf_days[day] = hf_day(
                [f"Multimodal Large Language Model, part {n}"], first_id=f"2411.{40000 + n}"
            )
        settings = make_settings(telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url)
        async with running_bot(settings, clock=clock) as app:
            for chat, name in zones.items():
                await say(telegram, chat, "/subscribe mllm")
                assert name in await say(telegram, chat, f"/timezone {name}")
            counts = {chat: len(telegram.messages_to(chat)) for chat in zones}
            received: dict[int, list[tuple[dt.datetime, str]]] = {chat: [] for chat in zones}

            # Every quarter of an hour for five days; each day's papers are listed the
            # evening before (UTC), ahead of the earliest 09:00 (Vladivostok's, 23:00 UTC).
            clock.now = dt.datetime(2024, 10, 31, 21, 0, tzinfo=dt.UTC)
            while clock.now < dt.datetime(2024, 11, 5, 0, 0, tzinfo=dt.UTC):
                if clock.now.time() == dt.time(22, 0):
                    day = clock.now.date() + dt.timedelta(days=1)
                    if day in sources.hf_days:
                        await app.bot_data.services.ingestor.run([day], [Source.HF])
                await tick(app)
                for chat in zones:
                    new = telegram.messages_to(chat)[counts[chat] :]
                    received[chat] += [(clock.now, m.plain) for m in new]
                    counts[chat] += len(new)
                clock.now += dt.timedelta(minutes=15)

    for chat, name in zones.items():
        local = [(at.astimezone(ZoneInfo(name)), text) for at, text in received[chat]]
        assert [at.time() for at, _ in local] == [dt.time(9, 0)] * len(local), local
        delivered_days = [at.date() for at, _ in local]
        assert delivered_days == sorted(set(delivered_days)), "one digest per local day"
        for at, text in local:
            assert text.startswith(f"☀️ Дайджест на {at.day} ноября · #mllm · 1 статья")
    new_york = [at for at, _ in received[603]]
    assert [at.hour for at in new_york] == [13, 13, 14, 14]  # 1-2 Nov EDT, then EST
    # Vladivostok's 5 November begins before the five days end in UTC.
    assert [len(received[chat]) for chat in zones] == [4, 5, 4]


async def mllm_digest(services: Services) -> digests.ComposedDigest:
    """The reader's #mllm digest of the latest day, as a broadcast composes it."""
    async with services.sessionmaker() as session:
        since = await digests.default_since(session=session)
        assert since is not None
        found = await digests.compose(
            session=session, chats=[(READER, profile(["mllm"]))], max_papers=15, since=since
        )
    return found[READER]


async def test_a_digest_composed_before_another_sender_died_sends_only_the_rest(world):
    # A sender composes a chat's digest, then waits its turn in the broadcast; meanwhile
    # another sender, whose claim lapsed, got two of those papers out and died. The chat
    # receives the other four, and nothing at all once every paper has reached it.
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    services = app.bot_data.services
    composed = await mllm_digest(services)
    assert {p.id for p in composed.papers} == MLLM_PAPERS
    sent_by_the_dead = [p.id for p in composed.papers[:2]]
    async with services.sessionmaker() as session, session.begin():
        await digests.record_deliveries(
            session=session, chat_id=READER, paper_ids=sent_by_the_dead, now=clock.now
        )
    count = len(telegram.messages_to(READER))

    assert await Deliverer(services, app.bot).send(READER, ("mllm",), composed, DAY) == 1
    [digest] = telegram.messages_to(READER)[count:]
    assert "· 4 статьи" in digest.plain
    assert set(papers_in(digest)) == MLLM_PAPERS - set(sent_by_the_dead)

    assert await Deliverer(services, app.bot).send(READER, ("mllm",), composed, DAY) == 0
    assert len(telegram.messages_to(READER)) == count + 1


async def test_a_sender_whose_turn_came_after_the_lease_sends_nothing_of_a_run_taken_over(world):
    # A broadcast claimed the chat and started its run, then fell behind: by the chat's turn
    # the lease had lapsed and another sender had resumed the run. The late sender checks
    # its claim before the first message, and leaves the digest to the other.
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    services = app.bot_data.services
    lease = services.settings.delivery_lease
    composed = await mllm_digest(services)
    async with services.sessionmaker() as session, session.begin():
        started = clock.now - lease
        kept = {"session": session, "chat_id": READER, "local_date": DAY, "lease": lease}
        assert await digests.start_run(**kept, now=started) == 1
        assert await digests.start_run(**kept, now=clock.now) == 2  # the other sender
    count = len(telegram.messages_to(READER))

    late = Run(READER, DAY, attempt=1, started_at=started, following=clock.now + lease)
    with pytest.raises(RunLost):
        await Deliverer(services, app.bot).send(
            READER, ("mllm",), composed, DAY, run=late, fresh=True
        )

    assert len(telegram.messages_to(READER)) == count


def mllm_day(count: int) -> list[dict[str, Any]]:
    """A day of ``count`` multimodal papers, more than one digest message holds."""
    titles = [f"Multimodal Large Language Model, part {n}" for n in range(count)]
    return hf_day(titles, first_id="2412.50000")


async def test_a_message_telegram_took_but_answered_late_is_not_sent_again(db_url: str):
    # Telegram puts the first message into the chat but answers 45 s later; the bot gives
    # up waiting after PTB's read timeout (5 s), cannot know, and must not send it again.
    clock = Clock(dt.datetime(2024, 12, 19, 5, 50, tzinfo=dt.UTC))
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[DAY] = mllm_day(30)
        settings = make_settings(
            telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url, digest_max_papers=50
        )
        async with running_bot(settings, clock=clock) as app:
            await say(telegram, READER, "/subscribe mllm")
            await app.bot_data.services.ingestor.run([DAY], [Source.HF])
            count = len(telegram.messages_to(READER))
            telegram.answer_late("sendMessage", chat_id=READER, seconds=45)

            clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
            await tick(app)
            metrics = app.bot_data.services.metrics.registry

    digest = telegram.messages_to(READER)[count:]
    assert len(digest) > 2
    assert digest[0].plain.startswith("☀️ Дайджест на 19 декабря · #mllm · 30 статей")
    received = Counter(paper for message in digest for paper in papers_in(message))
    assert received == {f"2412.{50000 + n}": 1 for n in range(30)}
    assert metrics.get_sample_value("digest_uncertain_sends_total") == 1
    assert metrics.get_sample_value("digest_digests_total", {"result": "sent"}) == 1


async def test_a_digest_late_after_downtime_is_dated_the_day_it_arrives(world):
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")  # due at 09:00 on 19 December
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    count = len(telegram.messages_to(READER))

    # The bot was down from before 09:00 until 10:00 the next day.
    clock.now = dt.datetime(2024, 12, 20, 7, 0, tzinfo=dt.UTC)
    await tick(app)

    [digest] = telegram.messages_to(READER)[count:]
    assert digest.plain.startswith("☀️ Дайджест на 20 декабря · #mllm · 6 статей")
    async with app.bot_data.services.sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=READER)
    assert chat is not None
    assert chat.next_digest_at == dt.datetime(2024, 12, 21, 6, 0, tzinfo=dt.UTC)


async def test_one_chat_failing_does_not_stop_the_others_digests(world, caplog):
    telegram, _, _, clock, app = world
    broken, garbled, other = 504, 506, 505
    for chat in (broken, garbled, READER, other):
        await say(telegram, chat, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    # The broken chats are due first: one with a time zone this machine's zone database
    # lacks, one weekly on a weekday that does not exist.
    await set_chats(app, [broken], timezone="Mars/Olympus", next_digest_at=clock.now)
    await set_chats(app, [garbled], digest_weekday=7, next_digest_at=clock.now)
    chats = (broken, garbled, READER, other)
    counts = {chat: len(telegram.messages_to(chat)) for chat in chats}

    clock.now = dt.datetime(2024, 12, 19, 6, 0, 5, tzinfo=dt.UTC)
    await tick(app)

    for chat in (READER, other):
        [digest] = telegram.messages_to(chat)[counts[chat] :]
        assert set(papers_in(digest)) == MLLM_PAPERS
    assert len(telegram.messages_to(broken)) == counts[broken]
    assert len(telegram.messages_to(garbled)) == counts[garbled]
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all(
        any(f"chat {chat} failed" in text for text in failures) for chat in (broken, garbled)
    )


async def test_a_time_set_while_the_digest_is_sent_stands(world):
    telegram, _, _, clock, app = world
    await say(telegram, READER, "/subscribe mllm")
    await app.bot_data.services.ingestor.run([DAY], [Source.HF])
    count = len(telegram.messages_to(READER))
    # Telegram makes the digest wait two seconds; meanwhile the reader moves it to 10:30.
    delivery = await held_up_at_nine(telegram, clock, app)
    telegram.send_text(READER, "/time 10:30")
    await telegram.wait_until(
        lambda: any("10:30" in m.plain for m in telegram.messages_to(READER)[count:]), 10
    )
    # Today's digest is on its way, so the reader is told the truth: 10:30 tomorrow.
    [answer] = [m for m in telegram.messages_to(READER)[count:] if "10:30" in m.plain]
    assert "завтра в 10:30" in answer.plain
    await delivery

    async with app.bot_data.services.sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=READER)
    assert chat is not None
    # The sender's release kept it, rather than moving the digest to 09:00 tomorrow.
    assert chat.next_digest_at == dt.datetime(2024, 12, 20, 7, 30, tzinfo=dt.UTC)
    digests_sent = [m for m in telegram.messages_to(READER)[count:] if "Дайджест" in m.plain]
    assert len(digests_sent) == 1

    # At 10:30 today nothing more comes.
    clock.now = dt.datetime(2024, 12, 19, 7, 30, 5, tzinfo=dt.UTC)
    await tick(app)
    assert len([m for m in telegram.messages_to(READER)[count:] if "Дайджест" in m.plain]) == 1
    async with app.bot_data.services.sessionmaker() as session:
        chat = await get_chat(session=session, chat_id=READER)
    assert chat is not None
    assert chat.next_digest_at == dt.datetime(2024, 12, 20, 7, 30, tzinfo=dt.UTC)
