"""The numbered keyboard under a digest message: within Telegram's limits, read back whole."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery import digest_markup
from bot.keyboards import (
    MAX_ROW,
    DigestItem,
    Feedback,
    FeedbackCallback,
    decode_feedback,
    digest_items,
    digest_keyboard,
    encode_feedback,
)
from content.render import DigestPart
from tests.fake_telegram import check_reply_markup

LONGEST_ID = "x" * 32  # the papers.id column holds 32 characters


def items(count: int, first: int = 1) -> list[DigestItem]:
    return [DigestItem(n, f"2412.{n:05d}") for n in range(first, first + count)]


def labels(markup: InlineKeyboardMarkup | None) -> list[list[str]]:
    assert markup is not None
    return [[button.text for button in row] for row in markup.inline_keyboard]


def test_every_button_fits_telegrams_64_bytes_even_for_the_longest_id() -> None:
    item = DigestItem(999, LONGEST_ID, suggested=True)
    for action in Feedback:
        data = encode_feedback(action, None if action is Feedback.CLOSE else item)
        assert 0 < len(data.encode()) <= 64
        assert decode_feedback(data) == FeedbackCallback(
            action, None if action is Feedback.CLOSE else item
        )


@pytest.mark.parametrize(
    ("count", "rows"),
    [(1, [1]), (8, [8]), (9, [5, 4]), (10, [5, 5]), (17, [6, 6, 5]), (96, [8] * 12)],
)
def test_numbers_come_in_even_rows_of_at_most_eight(count: int, rows: list[int]) -> None:
    markup = digest_keyboard(items(count))
    assert [len(row) for row in labels(markup)] == rows
    assert all(len(row) <= MAX_ROW for row in labels(markup))


def test_a_message_of_more_papers_than_buttons_allowed_stays_within_100() -> None:
    markup = digest_keyboard(items(120), opened=DigestItem(1, "2412.00001"))
    assert markup is not None
    assert sum(len(row) for row in markup.inline_keyboard) <= 100
    check_reply_markup(markup.to_dict())  # what the fake (and Telegram) accepts


def test_the_keyboard_is_read_back_from_its_own_buttons_whatever_is_open() -> None:
    shown = [*items(6, first=9), DigestItem(15, "2412.00015", suggested=True)]
    for opened in (None, shown[0], shown[-1]):
        markup = digest_keyboard(shown, opened=opened, votes={"2412.00010": 1})
        assert digest_items(markup) == shown


def test_an_opened_paper_shows_its_actions_and_the_chosen_vote() -> None:
    shown = items(3)
    markup = digest_keyboard(shown, opened=shown[1], votes={"2412.00002": -1, "2412.00003": 1})
    assert labels(markup) == [["1", "· 2 👎 ·", "3 👍"], ["👍", "✅ 👎", "Похожие", "◀"]]


def test_delivery_numbers_the_buttons_as_the_text_and_marks_suggestions() -> None:
    part = DigestPart(
        "…",
        ("2412.00007", "2412.00008", "2412.00009"),
        numbers=(7, 8, 9),
        suggested=frozenset({"2412.00009"}),
    )
    markup = digest_markup(part)
    assert markup is not None
    assert labels(markup) == [["7", "8", "9"]]
    assert [b.callback_data for b in markup.inline_keyboard[0]] == [
        "fb:o:7:2412.00007",
        "fb:o:8:2412.00008",
        "fb:o:9:2412.00009:s",
    ]


def test_a_message_without_papers_has_no_keyboard() -> None:
    assert digest_markup(DigestPart("Новых статей нет.", ())) is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "fb",
        "fb:o",
        "fb:o:1",
        "fb:x:1:2412.00001",
        "fb:?:1:2412.00001",
        "fb:+:0:2412.00001",
        "fb:+:-1:2412.00001",
        "fb:+:1000:2412.00001",
        "fb:+:١:2412.00001",  # an Arabic-Indic digit
        "fb:+:1:",
        "fb:+:1:" + "x" * 33,
        "fb:+:1:2412.00001:t",
        "fb:+:1:2412.00001:s:s",
        "fb:+:1:24 12",
        "ta:mllm",
        "sr:abc:1",
    ],
)
def test_data_we_did_not_make_decodes_to_nothing(data: str | None) -> None:
    assert decode_feedback(data) is None


def test_buttons_of_other_keyboards_are_not_read_as_papers() -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("#mllm", callback_data="ta:mllm")],
            [InlineKeyboardButton("👍", callback_data="fb:+:1:2412.00001")],
            [InlineKeyboardButton("site", url="https://example.com")],
        ]
    )
    assert digest_items(markup) == []
