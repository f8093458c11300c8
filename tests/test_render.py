"""Telegram HTML of the morning digest and of search cards (docs/architecture.md, "Delivery").

Every message produced here is checked by the fake Telegram's port of tdlib's HTML parser in
strict mode and measured the way Telegram measures it (UTF-16 code units).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

import pytest

from content.render import (
    DigestFormat,
    PaperView,
    parse_format,
    render_card,
    render_digest,
    render_plain,
)
from tests.fake_telegram import html_to_plain, parse_html

DAY = dt.date(2024, 12, 10)
LIMIT = 4096

SEED = PaperView(
    id="2412.13871",
    title="LLaVA-UHD v2: пирамида признаков высокого разрешения для MLLM",
    summary=(
        "Иерархический оконный трансформер Hiwin строит обратную пирамиду признаков ViT и "
        "сжимает её окнами разных масштабов: +3,7% в среднем по 14 бенчмаркам, "
        "+9,3% на DocVQA."
    ),
    url="https://huggingface.co/papers/2412.13871",
    code_url="https://github.com/thunlp/LLaVA-UHD",
    upvotes=42,
    tags=("mllm", "cv", "benchmark"),
)

SEED_BLOCK = (
    '1. <b><a href="https://huggingface.co/papers/2412.13871">'
    "LLaVA-UHD v2: пирамида признаков высокого разрешения для MLLM</a></b>\n"
    "Иерархический оконный трансформер Hiwin строит обратную пирамиду признаков ViT и "
    "сжимает её окнами разных масштабов: +3,7% в среднем по 14 бенчмаркам, +9,3% на DocVQA.\n"
    '💻 <a href="https://github.com/thunlp/LLaVA-UHD">thunlp/LLaVA-UHD</a> · 👍 42\n'
    "#mllm #cv #benchmark"
)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def valid(message: str, limit: int = LIMIT) -> str:
    """Assert Telegram accepts the message and it is within the limit; return its visible text."""
    parse_html(message, strict=True)
    plain = html_to_plain(message)
    assert utf16(plain) <= limit
    assert len(plain) <= limit
    assert utf16(message) <= limit  # raw HTML too, to stay on the safe side
    return plain


def links(message: str) -> list[str]:
    return [e["url"] for e in parse_html(message).entities if e["type"] == "text_link"]


def paper(n: int, **changes: Any) -> PaperView:
    fields: dict[str, Any] = {
        "id": f"2412.{n:05d}",
        "title": f"Статья номер {n}",
        "summary": f"Краткое содержание статьи {n}.",
        "url": f"https://huggingface.co/papers/2412.{n:05d}",
        "tags": ("mllm",),
    }
    fields.update(changes)
    return PaperView(**fields)


def long_summary(n: int, chars: int = 3000) -> str:
    sentence = f"Предложение о статье {n} с результатами на бенчмарках и выводами авторов. "
    return (sentence * (chars // len(sentence) + 1))[:chars].strip()


# --- the format -----------------------------------------------------------------------------


def test_the_seed_paper_renders_exactly_as_designed() -> None:
    messages = render_digest([SEED], day=DAY, tags=["mllm"])
    assert messages == ["☀️ <b>Дайджест на 10 декабря</b> · #mllm · 1 статья\n\n" + SEED_BLOCK]
    valid(messages[0])
    assert links(messages[0]) == [SEED.url, SEED.code_url]


def test_six_papers_have_the_design_header_and_blank_lines_between_blocks() -> None:
    messages = render_digest([SEED] * 6, day=DAY, tags=["mllm"])
    assert len(messages) == 1
    header, *blocks = messages[0].split("\n\n")
    assert header == "☀️ <b>Дайджест на 10 декабря</b> · #mllm · 6 статей"
    assert blocks[0] == SEED_BLOCK
    assert [block.split(".", 1)[0] for block in blocks] == ["1", "2", "3", "4", "5", "6"]
    valid(messages[0])


def test_links_line_shows_code_project_and_upvotes_only_when_present() -> None:
    project = "https://llava-uhd.github.io/"
    only_project = paper(1, project_url=project, upvotes=0)
    both = paper(2, code_url="https://github.com/a/b", project_url=project, upvotes=7)
    bare = paper(3, upvotes=0)
    plain = valid(render_digest([only_project, both, bare], day=DAY, tags=["mllm"])[0])
    blocks = plain.split("\n\n")[1:]
    assert blocks[0].splitlines()[2] == "🌐 проект"
    assert blocks[1].splitlines()[2] == "💻 a/b · 🌐 проект · 👍 7"
    assert blocks[2].splitlines() == ["3. Статья номер 3", "Краткое содержание статьи 3.", "#mllm"]
    assert "👍" not in blocks[0]
    message = render_digest([only_project, both], day=DAY, tags=["mllm"])[0]
    assert project in links(message)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "1 статья"),
        (2, "2 статьи"),
        (4, "4 статьи"),
        (5, "5 статей"),
        (11, "11 статей"),
        (12, "12 статей"),
        (21, "21 статья"),
        (22, "22 статьи"),
    ],
)
def test_header_counts_papers_with_russian_plurals(n: int, words: str) -> None:
    messages = render_digest([paper(i) for i in range(1, n + 1)], day=DAY, tags=["mllm"])
    assert messages[0].split("\n", 1)[0].endswith(f" · {words}")
    for message in messages:
        valid(message)


def test_header_names_the_chat_topics_present_in_the_digest() -> None:
    papers = [paper(1, tags=("llm", "rl")), paper(2, tags=("cv",))]
    header = render_digest(papers, day=DAY, tags=["mllm", "rl", "cv", "agents"])[0].split("\n")[0]
    assert header == "☀️ <b>Дайджест на 10 декабря</b> · #rl #cv · 2 статьи"


def test_header_falls_back_to_all_chat_topics_when_papers_carry_none() -> None:
    header = render_digest([paper(1, tags=())], day=DAY, tags=["mllm", "rl"])[0].split("\n")[0]
    assert header == "☀️ <b>Дайджест на 10 декабря</b> · #mllm #rl · 1 статья"


def test_header_shows_five_topics_then_how_many_more() -> None:
    tags = ["mllm", "llm", "agents", "reasoning", "rl", "cv", "benchmark"]
    header = render_digest([paper(1, tags=tuple(tags))], day=DAY, tags=tags)[0].split("\n")[0]
    assert header == (
        "☀️ <b>Дайджест на 10 декабря</b> · #mllm #llm #agents #reasoning #rl и ещё 2 · 1 статья"
    )


def test_header_without_chat_topics_has_no_hashtags() -> None:
    header = render_digest([paper(1, tags=())], day=DAY, tags=[])[0].split("\n")[0]
    assert header == "☀️ <b>Дайджест на 10 декабря</b> · 1 статья"


def test_date_is_russian_genitive() -> None:
    messages = render_digest([paper(1)], day=dt.date(2025, 3, 1), tags=["mllm"])
    assert messages[0].startswith("☀️ <b>Дайджест на 1 марта</b>")


def test_empty_digest_says_so() -> None:
    messages = render_digest([], day=DAY, tags=["mllm"])
    assert len(messages) == 1
    assert valid(messages[0]) == (
        "☀️ Дайджест на 10 декабря · #mllm · 0 статей\n\nНовых статей по вашей теме нет."
    )


# --- the more-line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("more", "line"),
    [
        (1, "Ещё 1 статья по вашим темам — /digest"),
        (3, "Ещё 3 статьи по вашим темам — /digest"),
        (5, "Ещё 5 статей по вашим темам — /digest"),
        (21, "Ещё 21 статья по вашим темам — /digest"),
        (112, "Ещё 112 статей по вашим темам — /digest"),
    ],
)
def test_more_line_ends_the_last_message(more: int, line: str) -> None:
    messages = render_digest([paper(1)], day=DAY, tags=["mllm", "rl"], more=more)
    assert messages[-1].endswith("\n\n" + line)
    valid(messages[-1])


def test_more_line_speaks_of_one_topic_when_the_chat_has_one() -> None:
    messages = render_digest([paper(1)], day=DAY, tags=["mllm"], more=2)
    assert messages[-1].endswith("\n\nЕщё 2 статьи по вашей теме — /digest")


def test_no_more_line_without_more_papers() -> None:
    messages = render_digest([paper(1)], day=DAY, tags=["mllm"])
    assert "Ещё" not in messages[-1]


def test_more_hint_is_escaped() -> None:
    messages = render_digest([paper(1)], day=DAY, tags=["mllm"], more=2, more_hint="/digest <all>")
    assert messages[-1].endswith("— /digest &lt;all&gt;")
    assert valid(messages[-1]).endswith("— /digest <all>")


def test_more_line_after_a_full_message_goes_last_and_fits() -> None:
    papers = [paper(n, summary=long_summary(n, 1900)) for n in range(1, 5)]
    messages = render_digest(papers, day=DAY, tags=["mllm"], more=3)
    for message in messages:
        valid(message)
    assert messages[-1].endswith("Ещё 3 статьи по вашей теме — /digest")
    assert sum("Ещё 3 статьи" in message for message in messages) == 1


# --- escaping -------------------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert("x")</script> & <b>Tom & Jerry</b> &amp; "quotes" \'apos\' a<b'
HOSTILE_SUMMARY = 'Сравнение 3 < 5 > 2 & "кавычки"; уже экранированное &amp; &lt;b&gt; </a> &nbsp;'


def test_hostile_text_is_escaped_exactly_once() -> None:
    hostile = paper(
        1,
        title=HOSTILE_TITLE,
        summary=HOSTILE_SUMMARY,
        code_url='https://github.com/o/r"><script>',
        tags=("<script>", 'a"b', "&amp;", "x&y"),
    )
    message = render_digest([hostile], day=DAY, tags=["<script>", "mllm"])[0]
    plain = valid(message)
    # What the reader sees is exactly what was stored: escaped once, decoded once.
    lines = plain.split("\n\n")[1].splitlines()
    assert lines[0] == f"1. {HOSTILE_TITLE}"
    assert lines[1] == HOSTILE_SUMMARY
    assert lines[3] == '#<script> #a"b #&amp; #x&y'
    assert plain.startswith("☀️ Дайджест на 10 декабря · #<script> · 1 статья")
    # Stored "&" is "&amp;" once; stored "&amp;" is "&amp;amp;", never left as is.
    assert "Tom &amp; Jerry" in message
    assert "&amp;amp;" in message
    assert "&amp;amp;amp;" not in message
    assert "<script>" not in message
    assert "&lt;script&gt;" in message
    assert "&#x27;apos&#x27;" in message
    # The quote in the code URL cannot close the attribute.
    assert links(message)[1] == 'https://github.com/o/r"><script>'


def test_only_our_own_tags_are_in_the_markup() -> None:
    hostile = paper(1, title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY, tags=("<i>",))
    message = render_digest([hostile], day=DAY, tags=["mllm"])[0]
    assert set(re.findall(r"</?([a-z-]+)", message)) == {"a", "b"}
    kinds = sorted(e["type"] for e in parse_html(message).entities)
    assert kinds == ["bold", "bold", "text_link"]


def test_newlines_and_controls_in_stored_text_do_not_break_the_layout() -> None:
    messy = paper(1, title="Заголовок\nв две строки", summary="Первый абзац.\n\nВторой\x00абзац.")
    plain = valid(render_digest([messy], day=DAY, tags=["mllm"])[0])
    assert plain.split("\n\n")[1].splitlines()[:2] == [
        "1. Заголовок в две строки",
        "Первый абзац. Второй абзац.",
    ]


def test_lone_surrogates_are_dropped_so_telegram_accepts_the_message() -> None:
    broken = paper(1, title="Title \ud800 here", summary="Summary \udfff.")
    valid(render_digest([broken], day=DAY, tags=["mllm"])[0])


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/paper.pdf",
        "tg://resolve?domain=evil",
        "//example.com/no-scheme",
        "https://localhost/x",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "",
    ],
)
def test_only_http_urls_are_linked(url: str) -> None:
    bad = paper(1, url=url, code_url=url or None, project_url=url or None, upvotes=3)
    message = render_digest([bad], day=DAY, tags=["mllm"])[0]
    plain = valid(message)
    assert links(message) == []
    # The title is still there, bold and unlinked; bad code and project links are dropped.
    assert "1. <b>Статья номер 1</b>\n" in message
    assert plain.split("\n\n")[1].splitlines()[2] == "👍 3"


def test_http_urls_with_ampersands_are_escaped_in_href() -> None:
    url = "https://example.com/p?a=1&b=<2>"
    message = render_digest([paper(1, url=url)], day=DAY, tags=["mllm"])[0]
    assert 'href="https://example.com/p?a=1&amp;b=&lt;2&gt;"' in message
    assert links(message) == [url]


# --- splitting ------------------------------------------------------------------------------


def test_forty_papers_with_long_summaries_split_between_blocks_only() -> None:
    papers = [
        paper(
            n,
            summary=long_summary(n),
            tags=("mllm", f"p{n}"),
            code_url=f"https://github.com/o/r{n}",
        )
        for n in range(1, 41)
    ]
    messages = render_digest(papers, day=DAY, tags=["mllm"], more=2)
    assert len(messages) > 1
    plains = [valid(message) for message in messages]
    assert plains[0].startswith("☀️ Дайджест на 10 декабря · #mllm · 40 статей\n\n")
    assert sum("Дайджест" in plain for plain in plains) == 1

    numbers = [int(n) for plain in plains for n in re.findall(r"^(\d+)\. Статья", plain, re.M)]
    assert numbers == list(range(1, 41))
    for plain in plains:
        blocks = plain.split("\n\n")
        body = [block for block in blocks if not block.startswith(("☀️", "Ещё"))]
        for block in body:
            # Every block is whole: its number, title, full summary, links and tags.
            n = int(block.split(".", 1)[0])
            assert block == (f"{n}. Статья номер {n}\n{long_summary(n)}\n💻 o/r{n}\n#mllm #p{n}")
    assert plains[-1].endswith("Ещё 2 статьи по вашей теме — /digest")


def test_messages_are_packed_greedily() -> None:
    papers = [paper(n, summary=long_summary(n, 1000)) for n in range(1, 11)]
    messages = render_digest(papers, day=DAY, tags=["mllm"])
    for first, second in itertools.pairwise(messages):
        valid(first)
        next_block = second.split("\n\n")[0]
        assert utf16(first + "\n\n" + next_block) > LIMIT


def test_a_block_longer_than_a_message_is_shortened_at_a_word_end() -> None:
    giant = paper(
        1,
        title="Очень длинный заголовок " * 20,
        summary=long_summary(1, 9000),
        code_url="https://github.com/o/r",
        project_url="https://o.github.io/r/",
        upvotes=5,
        tags=("mllm", "cv"),
    )
    messages = render_digest([giant, paper(2)], day=DAY, tags=["mllm"], more=4)
    plains = [valid(message) for message in messages]
    lines = plains[0].split("\n\n")[1].splitlines()
    assert lines[0].startswith("1. Очень длинный заголовок")
    summary = lines[1]
    assert summary.endswith("…")
    kept = summary.removesuffix("…")
    assert long_summary(1, 9000).startswith(kept)
    # Cut at a sentence end ("авторов."), with the period traded for the ellipsis.
    assert kept.endswith("выводами авторов")
    assert len(summary) > 3000
    assert lines[2:] == ["💻 o/r · 🌐 проект · 👍 5", "#mllm #cv"]
    assert plains[-1].endswith("Ещё 4 статьи по вашей теме — /digest")


def test_a_summary_of_escaped_characters_never_cuts_an_entity() -> None:
    giant = paper(1, summary="<&>\"'" * 2000, title='"&"' * 300)
    for message in render_digest([giant], day=DAY, tags=["mllm"]):
        plain = valid(message)
        assert "&" not in re.sub(r"&(?:lt|gt|amp|quot|#x27);", "", message)
        title, summary = plain.split("\n\n")[1].splitlines()[:2]
        assert title.endswith("…")
        assert summary.endswith("…")


def test_a_pathological_paper_still_fits() -> None:
    url = "https://example.com/" + "a" * 1900
    monster = paper(
        1,
        title="<" * 5000,
        summary="&" * 5000,
        url=url,
        code_url=url,
        project_url=url + "b",
        tags=tuple(f'"{i}"' * 20 for i in range(50)),
    )
    messages = render_digest([monster] * 3, day=DAY, tags=['"' * 500] * 8, more=9)
    assert len(messages) >= 3
    for message in messages:
        valid(message)


def test_papers_shortened_to_fit_take_a_message_each() -> None:
    papers = [paper(n, summary=long_summary(n, 5000)) for n in range(1, 101)]
    messages = render_digest(papers, day=DAY, tags=["mllm"])
    assert len(messages) == 100  # each shortened block fills a message of its own


# --- cards ----------------------------------------------------------------------------------


def test_card_is_the_block_with_a_one_sentence_summary() -> None:
    seed = PaperView(
        id=SEED.id,
        title=SEED.title,
        summary=SEED.summary + " Второе предложение не показывается.",
        url=SEED.url,
        code_url=SEED.code_url,
        upvotes=SEED.upvotes,
        tags=SEED.tags,
    )
    card = render_card(seed)
    assert card == SEED_BLOCK.removeprefix("1. ")
    valid(card, limit=1024)


def test_card_summary_is_at_most_200_characters() -> None:
    card = render_card(paper(1, summary="слово " * 100 + "."))
    summary = valid(card, limit=1024).splitlines()[1]
    assert len(summary) <= 200
    assert summary.endswith("слово…")


def test_card_escapes_and_fits_1024_even_for_hostile_input() -> None:
    hostile = paper(
        1,
        title=HOSTILE_TITLE * 30,
        summary='"<>&"' * 500,
        code_url="https://github.com/" + "o" * 900 + "/r",
        project_url="https://example.com/" + "&" * 900,
        tags=("<script>",) * 40,
    )
    card = render_card(hostile)
    plain = valid(card, limit=1024)
    assert plain.startswith(HOSTILE_TITLE[:40])
    assert "<script>" not in card


def test_card_links_only_http_urls() -> None:
    card = render_card(paper(1, url="javascript:alert(1)", code_url="file:///etc/passwd"))
    valid(card, limit=1024)
    assert links(card) == []
    assert card.startswith("<b>Статья номер 1</b>\n")


def test_render_plain_still_renders_the_terminal_preview() -> None:
    text = render_plain([SEED], tag="mllm", day=DAY)
    assert text.startswith("☀️ Дайджест на 10 декабря · #mllm · 1 статья\n\n1. LLaVA-UHD v2")


def test_each_digest_part_names_exactly_the_papers_it_carries():
    from content.render import render_digest_parts

    papers = [
        PaperView(
            id=f"2412.{n:05d}",
            title=f"Статья {n}",
            summary="Текст. " * 400,
            url=f"https://huggingface.co/papers/2412.{n:05d}",
        )
        for n in range(12)
    ]
    parts = render_digest_parts(papers, day=dt.date(2024, 12, 10), tags=["mllm"], more=2)
    assert len(parts) > 1
    assert [pid for part in parts for pid in part.paper_ids] == [p.id for p in papers]
    for part in parts:
        for pid in part.paper_ids:
            assert pid in part.text


# --- numbers and suggestions ----------------------------------------------------------------


def test_each_part_numbers_its_papers_as_the_text_does() -> None:
    from content.render import render_digest_parts

    papers = [paper(n, summary=long_summary(n, 1500)) for n in range(1, 9)]
    parts = render_digest_parts(papers, day=DAY, tags=["mllm"])
    assert len(parts) > 1
    for part in parts:
        plain = valid(part.text)
        shown = [int(n) for n in re.findall(r"^(\d+)\. Статья", plain, re.M)]
        assert list(part.numbers) == shown
        assert part.paper_ids == tuple(f"2412.{n:05d}" for n in shown)
        assert part.suggested == frozenset()


def test_suggestions_follow_the_chats_papers_under_their_heading_numbered_on() -> None:
    from content.render import render_digest_parts

    mine = [paper(1), paper(2)]
    suggested = [paper(n, tags=("moe",)) for n in (7, 8, 9, 10)]
    [part] = render_digest_parts(mine, day=DAY, tags=["mllm"], more=3, suggestions=suggested)

    plain = valid(part.text)
    blocks = plain.split("\n\n")
    assert blocks[0] == "☀️ Дайджест на 10 декабря · #mllm · 2 статьи"  # the chat's own count
    assert blocks[3] == "Может быть интересно"
    assert blocks[4] == (
        "3. Статья номер 7\nКраткое содержание статьи 7.\n#moe\n"
        "📌 похоже на то, что вам понравилось"
    )
    assert [b.split(".", 1)[0] for b in blocks[1:3] + blocks[4:7]] == ["1", "2", "3", "4", "5"]
    assert blocks[-1] == "Ещё 3 статьи по вашей теме — /digest"
    assert "2412.00010" not in part.text  # three suggestions at most
    assert part.numbers == (1, 2, 3, 4, 5)
    assert part.suggested == {"2412.00007", "2412.00008", "2412.00009"}
    assert "<b>Может быть интересно</b>" in part.text


def test_the_suggestions_heading_never_ends_a_message_alone() -> None:
    from content.render import render_digest_parts

    mine = [paper(n, summary=long_summary(n, 1300)) for n in range(1, 5)]
    suggested = [paper(9, summary=long_summary(9, 1300))]
    parts = render_digest_parts(mine, day=DAY, tags=["mllm"], suggestions=suggested)

    for part in parts:
        valid(part.text)
        assert not part.text.endswith("<b>Может быть интересно</b>")
    last = parts[-1]
    assert len(parts) == 3
    assert last.text.startswith("<b>Может быть интересно</b>\n\n5. ")
    assert (last.paper_ids, last.numbers, last.suggested) == (
        ("2412.00009",),
        (5,),
        frozenset({"2412.00009"}),
    )


def test_a_why_line_is_escaped_and_kept_when_a_block_is_shortened() -> None:
    block = render_card(paper(1, why="ваше слово «<watermark>»", summary=long_summary(1, 3000)))
    plain = valid(block, 1024)
    assert plain.endswith("📌 ваше слово «<watermark>»")


# --- the compact format ---------------------------------------------------------------------

COMPACT = DigestFormat.COMPACT


def quotes(message: str) -> list[tuple[str, str]]:
    """The (kind, visible text) of every quote in a message."""
    parsed = parse_html(message)
    utf16_text = parsed.text.encode("utf-16-le")
    return [
        (
            e["type"],
            utf16_text[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"),
        )
        for e in parsed.entities
        if "blockquote" in e["type"]
    ]


def test_a_compact_digest_folds_each_summary_under_its_title_and_keeps_the_rest() -> None:
    message = render_digest(
        [SEED, paper(2, why="ваше слово «watermark»")],
        day=DAY,
        tags=["mllm"],
        digest_format=COMPACT,
    )[0]
    plain = valid(message)
    assert quotes(message) == [
        ("expandable_blockquote", SEED.summary),
        ("expandable_blockquote", "Краткое содержание статьи 2."),
    ]
    first, second = plain.split("\n\n")[1:]
    # The title, then the folded summary; links, hashtags and the 📌 line as in the full form.
    assert first.splitlines() == [
        f"1. {SEED.title}",
        SEED.summary,
        "💻 thunlp/LLaVA-UHD · 👍 42",
        "#mllm #cv #benchmark",
    ]
    assert second.splitlines()[-1] == "📌 ваше слово «watermark»"
    # The full format is today's: no quote at all.
    assert quotes(render_digest([SEED], day=DAY, tags=["mllm"])[0]) == []


def test_a_paper_without_a_summary_gets_no_empty_quote() -> None:
    message = render_digest([paper(1, summary="")], day=DAY, tags=["mllm"], digest_format=COMPACT)[
        0
    ]
    valid(message)
    assert "blockquote" not in message


def test_hostile_text_in_a_compact_digest_cannot_open_or_close_a_quote() -> None:
    hostile = paper(
        1,
        title="</blockquote><blockquote>" + HOSTILE_TITLE,
        summary="</blockquote>" + HOSTILE_SUMMARY + "<blockquote expandable>",
        tags=("<blockquote>",),
    )
    message = render_digest([hostile], day=DAY, tags=["mllm"], digest_format=COMPACT)[0]
    valid(message)
    assert quotes(message) == [
        ("expandable_blockquote", "</blockquote>" + HOSTILE_SUMMARY + "<blockquote expandable>")
    ]
    assert set(re.findall(r"</?([a-z-]+)", message)) == {"a", "b", "blockquote"}


def test_forty_compact_papers_split_between_blocks_and_fit_with_the_quotes_counted() -> None:
    papers = [
        paper(n, summary=long_summary(n), code_url=f"https://github.com/o/r{n}", why="#mllm")
        for n in range(1, 41)
    ]
    messages = render_digest(papers, day=DAY, tags=["mllm"], more=2, digest_format=COMPACT)
    assert len(messages) > 1
    plains = [valid(message) for message in messages]
    numbers = [int(n) for plain in plains for n in re.findall(r"^(\d+)\. Статья", plain, re.M)]
    assert numbers == list(range(1, 41))
    # Every summary whole, each in a quote of its own.
    folded = [text for message in messages for _, text in quotes(message)]
    assert folded == [long_summary(n) for n in range(1, 41)]
    assert plains[-1].endswith("Ещё 2 статьи по вашей теме — /digest")


def test_a_compact_block_longer_than_a_message_is_shortened_inside_its_quote() -> None:
    giant = paper(1, summary=long_summary(1, 9000), why="#mllm", upvotes=5)
    messages = render_digest([giant, paper(2)], day=DAY, tags=["mllm"], digest_format=COMPACT)
    for message in messages:
        valid(message)
    assert utf16(messages[0]) > LIMIT - 100  # the cut used the room, the quote's tags counted
    [(_, summary)] = quotes(messages[0])
    assert summary.endswith("…")
    assert long_summary(1, 9000).startswith(summary.removesuffix("…"))
    assert html_to_plain(messages[0]).endswith("👍 5\n#mllm\n📌 #mllm")


def test_a_pathological_compact_paper_still_fits() -> None:
    url = "https://example.com/" + "a" * 1900
    monster = paper(1, title="<" * 5000, summary="&" * 5000, url=url, code_url=url, why="<" * 900)
    for message in render_digest([monster] * 3, day=DAY, tags=["mllm"], digest_format=COMPACT):
        valid(message)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("компактный", DigestFormat.COMPACT),
        ("Компактно", DigestFormat.COMPACT),
        ("кратко", DigestFormat.COMPACT),
        ("  COMPACT ", DigestFormat.COMPACT),
        ("свёрнутый", DigestFormat.COMPACT),
        ("полный", DigestFormat.FULL),
        ("подробно", DigestFormat.FULL),
        ("full", DigestFormat.FULL),
        ("развёрнутый", DigestFormat.FULL),
        ("средний", None),
        ("", None),
        ("компактный полный", None),
    ],
)
def test_format_words(typed: str, expected: DigestFormat | None) -> None:
    assert parse_format(typed) is expected


def test_a_weekly_digest_is_headed_as_the_weeks_across_a_months_end():
    parts = render_digest(
        [SEED], day=dt.date(2024, 12, 4), tags=["mllm"], week_from=dt.date(2024, 11, 28)
    )
    assert parts[0].startswith(
        "☀️ <b>Дайджест недели: 28 ноября – 4 декабря</b> · #mllm · 1 статья\n\n"
    )


# --- code that appeared later ---------------------------------------------------------------

CODE_HEADING = "<b>💻 Код появился</b>"


def late(n: int, **changes: Any) -> PaperView:
    """A paper the chat got without code, with the repository found since."""
    fields: dict[str, Any] = {"summary": "", "code_url": f"https://github.com/owner/repo-{n}"}
    return paper(n, **(fields | changes))


def test_late_code_ends_the_digest_one_line_a_paper_after_the_more_line() -> None:
    from content.render import render_digest_parts

    [part] = render_digest_parts(
        [paper(1)], day=DAY, tags=["mllm"], more=2, code_followups=[late(7), late(8)]
    )

    plain = valid(part.text)
    assert plain.split("\n\n")[-2:] == [
        "Ещё 2 статьи по вашей теме — /digest",
        "💻 Код появился\n• Статья номер 7 — 💻 owner/repo-7\n• Статья номер 8 — 💻 owner/repo-8",
    ]
    assert links(part.text)[-4:] == [
        "https://huggingface.co/papers/2412.00007",
        "https://github.com/owner/repo-7",
        "https://huggingface.co/papers/2412.00008",
        "https://github.com/owner/repo-8",
    ]
    # The told papers are no digest papers: no numbers, no buttons.
    assert (part.paper_ids, part.numbers) == (("2412.00001",), (1,))
    assert part.code_ids == ("2412.00007", "2412.00008")


def test_late_code_without_new_papers_is_a_short_message_of_just_that_section() -> None:
    from content.render import render_digest_parts

    [part] = render_digest_parts([], day=DAY, tags=["mllm"], code_followups=[late(7)])

    assert part.text == (
        f"{CODE_HEADING}\n"
        '• <a href="https://huggingface.co/papers/2412.00007">Статья номер 7</a>'
        ' — 💻 <a href="https://github.com/owner/repo-7">owner/repo-7</a>'
    )
    assert (part.paper_ids, part.code_ids) == ((), ("2412.00007",))
    valid(part.text)


def test_late_code_lines_escape_hostile_titles_and_links_exactly_once() -> None:
    from content.render import render_digest_parts

    hostile = late(7, title=HOSTILE_TITLE, code_url='https://github.com/o/r"><script>&x=1')
    [part] = render_digest_parts([], day=DAY, tags=["mllm"], code_followups=[hostile])

    plain = valid(part.text)
    assert plain.splitlines()[1] == f'• {HOSTILE_TITLE} — 💻 o/r"><script>&x=1'
    assert links(part.text)[1] == 'https://github.com/o/r"><script>&x=1'
    assert "<script>" not in part.text
    assert set(re.findall(r"</?([a-z-]+)", part.text)) == {"a", "b"}


def test_late_code_that_is_no_http_link_is_left_out() -> None:
    from content.render import render_digest_parts

    parts = render_digest_parts(
        [paper(1)],
        day=DAY,
        tags=["mllm"],
        code_followups=[late(7, code_url="javascript:alert(1)"), late(8)],
    )

    assert [part.code_ids for part in parts] == [("2412.00008",)]
    assert "javascript" not in parts[0].text


def test_late_code_lines_split_between_lines_only_and_fit_after_forty_papers() -> None:
    from content.render import render_digest_parts

    papers = [paper(n, summary=long_summary(n, 700)) for n in range(1, 41)]
    told = [late(n, title=long_summary(n, 400)) for n in range(41, 51)]
    parts = render_digest_parts(papers, day=DAY, tags=["mllm"], more=5, code_followups=told)

    for part in parts:
        valid(part.text)
        assert not part.text.endswith(CODE_HEADING)
    # Every line whole in exactly one message, in order, and told by that message only.
    assert [pid for part in parts for pid in part.code_ids] == [p.id for p in told]
    for part in parts:
        lines = [line for line in part.text.split("\n") if line.startswith("• ")]
        assert len(lines) == len(part.code_ids)
        for line, paper_id in zip(lines, part.code_ids, strict=True):
            assert line.endswith(f'">owner/repo-{int(paper_id[-5:])}</a>')
    assert sum(CODE_HEADING in part.text for part in parts) == 1


def test_a_pathological_late_code_line_still_fits_one_message() -> None:
    from content.render import render_digest_parts

    monstrous = late(
        7,
        title="&" * 5000,
        url="https://example.com/" + "&" * 2000,
        code_url="https://github.com/" + "&" * 2000,
    )
    parts = render_digest_parts([], day=DAY, tags=["mllm"], code_followups=[monstrous, late(8)])

    for part in parts:
        valid(part.text)
    assert [pid for part in parts for pid in part.code_ids] == ["2412.00007", "2412.00008"]
