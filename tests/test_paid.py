"""What a paid broadcast costs: 0.1 Star for each message above Telegram's free 30 a second."""

from __future__ import annotations

from telegram import StarAmount

from bot.paid import billed_messages, cost_nanostars, nanostars, stars


def test_3000_messages_at_300_a_second_bill_the_2700_above_the_free_30_a_second():
    assert billed_messages(3000, 300) == 2700
    assert cost_nanostars(3000, 300) == 270 * 10**9


def test_a_round_of_a_second_or_less_still_has_its_30_free_messages():
    assert billed_messages(30, 300) == 0
    assert billed_messages(120, 300) == 90
    assert billed_messages(31, 1000) == 1


def test_at_the_free_rate_or_below_nothing_is_billed():
    assert billed_messages(3000, 30) == 0
    assert billed_messages(3000, 29) == 0
    assert billed_messages(0, 300) == 0


def test_at_1000_a_second_97_percent_are_billed():
    assert billed_messages(10_000, 1000) == 9700


def test_a_star_amount_counts_its_nanostars():
    assert nanostars(StarAmount(12, 500_000_000)) == 12_500_000_000
    assert nanostars(StarAmount(270)) == 270 * 10**9
    assert (stars(270 * 10**9), stars(12_500_000_000)) == ("270", "12.5")
