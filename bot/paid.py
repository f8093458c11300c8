"""Paid broadcasts: whether a delivery round pays Telegram to go faster, and what it costs.

Telegram's rule: a message sent with ``allow_paid_broadcast=True`` ignores the broadcasting
limit of about 30 messages a second, up to 1,000 a second, "for a fee of 0.1 Telegram Stars per
message", withdrawn from the bot's Star balance (Bot API, ``sendMessage``). Only the messages
above the free rate are billed: Telegram bills the calls made while the bot broadcasts faster
than 30 a second (the Bot FAQ on messaging all subscribers at once; MTProto's
``starsTransaction.floodskip_number`` counts "billed API calls"). ``getMyStarBalance`` tells
the balance as a ``StarAmount``: whole Stars and nanostars.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
from dataclasses import dataclass

from telegram import Bot, StarAmount
from telegram.error import TelegramError

from bot.ratelimit import SharedBudgetRateLimiter

log = logging.getLogger(__name__)

NANOSTARS_PER_STAR = 1_000_000_000
# 0.1 ⭐ for each billed message.
PRICE_NANOSTARS = NANOSTARS_PER_STAR // 10
# Messages a second Telegram sends without a fee, and the most a paid broadcast may send.
FREE_RATE = 30
MAX_PAID_RATE = 1000


def billed_messages(messages: int, rate: float) -> int:
    """How many of ``messages`` sent at ``rate`` a second Telegram bills at 0.1 ⭐ each.

    Sent at ``rate``, they take ``messages / rate`` seconds (at least one), and in each second
    the first FREE_RATE messages are free; the rest are billed. At 300 a second, 3,000 messages
    take 10 s, 300 of them free and 2,700 billed: 270 ⭐. A round of at most 30 messages, or
    one sent at 30 a second or slower, costs nothing.
    """
    if messages <= 0 or rate <= FREE_RATE:
        return 0
    seconds = max(1.0, messages / rate)
    return max(0, messages - math.floor(FREE_RATE * seconds))


def cost_nanostars(messages: int, rate: float) -> int:
    """What sending ``messages`` at ``rate`` a second costs, in nanostars."""
    return billed_messages(messages, rate) * PRICE_NANOSTARS


def nanostars(amount: StarAmount) -> int:
    """A StarAmount in nanostars."""
    return amount.amount * NANOSTARS_PER_STAR + (amount.nanostar_amount or 0)


class Fallback(enum.StrEnum):
    """Why a round went out at the free rate although paid broadcasts are on."""

    LOW_BALANCE = "low_balance"
    CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """How one delivery round goes out, decided before its first message."""

    paid: bool
    rate: float  # messages a second, digests and replies together
    messages: int  # due, counted as one message a digest
    cost: int  # expected, in nanostars
    balance: int | None  # nanostars; None when the check failed
    fallback: Fallback | None
    error: str | None
    at: dt.datetime


class PaidBroadcast:
    """Before each round with digests due, checks the Star balance and sets the budget's rate.

    With PAID_BROADCAST off it does nothing. A round is paid when the balance covers its
    expected cost; otherwise, or when the balance cannot be read, it goes out at the free
    BROADCAST_RATE, and ``last`` says why (for the log and /stats). After the round the budget
    returns to the free rate.
    """

    def __init__(
        self,
        *,
        enabled: bool,
        paid_rate: float,
        free_rate: float,
        limiter: SharedBudgetRateLimiter,
    ) -> None:
        self.enabled = enabled
        self.paid_rate = paid_rate
        self.free_rate = free_rate
        self._limiter = limiter
        self._paid_rounds = 0  # paid rounds under way in this process
        self.last: RoundPlan | None = None

    async def begin_round(self, bot: Bot, *, messages: int, now: dt.datetime) -> RoundPlan:
        """Decide how a round of ``messages`` due goes out, and set the budget for it."""
        cost = cost_nanostars(messages, self.paid_rate)
        balance: int | None = None
        error: str | None = None
        try:
            balance = nanostars(await bot.get_my_star_balance())
        except TelegramError as exc:
            error = f"{type(exc).__name__}: {exc.message}"
        if balance is None:
            fallback: Fallback | None = Fallback.CHECK_FAILED
        elif balance < cost:
            fallback = Fallback.LOW_BALANCE
        else:
            fallback = None
        plan = RoundPlan(
            paid=fallback is None,
            rate=self.paid_rate if fallback is None else self.free_rate,
            messages=messages,
            cost=cost,
            balance=balance,
            fallback=fallback,
            error=error,
            at=now,
        )
        self.last = plan
        _log(plan, self.paid_rate)
        if plan.paid:
            self._paid_rounds += 1
            self._limiter.use_rate(self.paid_rate)
        return plan

    def end_round(self, plan: RoundPlan) -> None:
        """The round of ``plan`` is over: back to the free rate once no paid round runs."""
        if not plan.paid:
            return
        self._paid_rounds -= 1
        if not self._paid_rounds:
            self._limiter.use_rate(self.free_rate)


def stars(amount_nanostars: int) -> str:
    """Nanostars as Stars for a log line: ``270``, ``12.5``."""
    return f"{amount_nanostars / NANOSTARS_PER_STAR:.9f}".rstrip("0").rstrip(".")


def _log(plan: RoundPlan, paid_rate: float) -> None:
    billed = plan.cost // PRICE_NANOSTARS
    expected = (
        f"{plan.messages} messages due at {paid_rate:g}/s: {billed} above the free "
        f"{FREE_RATE}/s, expected cost {stars(plan.cost)} stars"
    )
    if plan.paid:
        assert plan.balance is not None
        log.info("paid broadcast: %s; balance %s stars", expected, stars(plan.balance))
    elif plan.fallback is Fallback.LOW_BALANCE:
        assert plan.balance is not None
        log.warning(
            "paid broadcast off for this round, sending at the free %g/s: %s, balance only "
            "%s stars",
            plan.rate,
            expected,
            stars(plan.balance),
        )
    else:
        log.warning(
            "paid broadcast off for this round, sending at the free %g/s: %s; the Star balance "
            "could not be read (%s)",
            plan.rate,
            expected,
            plan.error,
        )
