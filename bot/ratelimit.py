"""Rate limiting: one message budget for the whole bot, that replies draw on before broadcasts.

With SQLite the bot is one process, and the budget lives in its memory. With PostgreSQL every
replica draws on one budget in the database (storage.ratebudget), a few tokens at a time.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy.exc import DBAPIError
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from bot.metrics import Metrics
from storage import ratebudget
from storage.db import create_engine, create_sessionmaker
from storage.ratebudget import Grant

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

# Telegram allows about 30 messages a second per bot, replies and broadcasts together. Sending
# at exactly the limit leaves no room for the jitter between our clock and theirs, and every
# 429 stalls everything for its retry_after. (BROADCAST_RATE overrides it.)
MESSAGES_PER_SECOND = 29.0
# About one message a second to the same private chat, with a short burst, so a digest of a
# few parts arrives at once and a longer one is paced instead of answered with 429 (again a
# little under the limit, for the same jitter).
CHAT_BURST = 3
CHAT_PER_SECOND = 0.9
# Idle per-chat limiters are dropped once there are this many (a broadcast touches thousands).
_MAX_CHAT_LIMITERS = 1024
# Bot API methods that put a new message into a chat.
_MESSAGE_ENDPOINTS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "copyMessage"}
)
# The shared budget: a replica takes at most a fifth of a second's tokens at a time, so one
# round trip serves a few messages, and replicas still share it finely; the bucket holds 0.4 s
# worth, so all replicas together never burst far beyond the rate. A token not spent within
# TOKEN_SECONDS lapses: a replica that stalled (or died) holding some cannot later add them to
# what the others send meanwhile.
BATCH_SECONDS = 0.2
BURST_SECONDS = 0.4
TOKEN_SECONDS = 1.0
# A replica keeps at hand what it spent in this long, lately: enough to cover a slow round
# trip to the database (on a busy machine, over a tenth of a second), few enough to be spent
# long before they lapse.
LOOKAHEAD_SECONDS = 0.5


class SendKind(enum.StrEnum):
    """How a request is throttled; pass it as ``rate_limit_args`` on bulk sends."""

    BROADCAST = "broadcast"


class TokenSource(Protocol):
    """Where a replica's tokens come from: the shared budget (DatabaseBudget)."""

    async def take(self, *, want: int, owed: int, rate: float, capacity: float) -> Grant:
        """Pay ``owed`` tokens, then take up to ``want``."""

    async def aclose(self) -> None:
        """Release what the source holds."""


class DatabaseBudget:
    """The budget row in the database (storage.ratebudget), on connections of its own.

    Each take is one statement that commits by itself: the row is locked only while the
    database runs it, never across a round trip, and takes never queue for a connection
    behind the delivery's transactions.
    """

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, single_statements=True)
        self._sessionmaker = create_sessionmaker(self._engine)

    async def take(self, *, want: int, owed: int, rate: float, capacity: float) -> Grant:
        """Pay ``owed`` tokens, then take up to ``want``."""
        # The connection is not pinged before each take (a round trip as long as the take);
        # one the server dropped fails once, is discarded, and the take is made again.
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(2),
            retry=retry_if_exception(_connection_lost),
            reraise=True,
        ):
            with attempt:
                async with self._sessionmaker() as session, session.begin():
                    return await ratebudget.take_tokens(
                        session=session, want=want, owed=owed, rate=rate, capacity=capacity
                    )
        raise AssertionError("unreachable: the last attempt raises")

    async def aclose(self) -> None:
        """Close the connections."""
        await self._engine.dispose()


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class SharedBudget:
    """A replica's hand of the bot's message budget, which all replicas draw on.

    Broadcast messages wait for a token. Tokens come from the shared budget a few at a time,
    one take at a time: as many as are waiting, or as the last half second's pace will need,
    up to a batch, asked for before the last is spent. Replies never wait: they take a token
    at hand, or go out on credit that is paid to the shared budget at once in the
    background, so the broadcasts (of every replica) make room for them.
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        messages_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.rate = messages_per_second
        self._clock = clock
        self._tokens = 0  # below zero: replies sent on credit, not yet paid
        self._lapse_at = 0.0
        self._taking = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._payment_waiting = False
        self._waiting = 0  # broadcast messages waiting for a token
        self._spent: collections.deque[float] = collections.deque()  # when, over the last second

    @property
    def batch(self) -> int:
        """Tokens taken from the shared budget at a time."""
        return max(1, math.ceil(self.rate * BATCH_SECONDS))

    @property
    def capacity(self) -> float:
        """Tokens the shared budget holds at most."""
        return max(float(self.batch), self.rate * BURST_SECONDS)

    def _at_hand(self) -> int:
        if self._tokens > 0 and self._clock() >= self._lapse_at:
            self._tokens = 0
        return self._tokens

    async def acquire(self) -> None:
        """Wait for one message's share of the budget (a broadcast message)."""
        self._waiting += 1
        try:
            while self._at_hand() <= 0:
                async with self._taking:
                    if self._at_hand() <= 0:
                        # Holding the lock, so the others wait here instead of each asking.
                        await asyncio.sleep(await self._take(self._want()))
            self._tokens -= 1
        finally:
            self._waiting -= 1
        now = self._clock()
        self._spent.append(now)
        if self._at_hand() < self._demand(now) and not self._taking.locked():
            # Ask for the next tokens while these are spent: a round trip to the database
            # takes long on a busy machine, and the senders should not wait it out.
            self._in_background(self._top_up())

    def _demand(self, now: float) -> int:
        """Tokens this replica will likely spend within LOOKAHEAD_SECONDS, by the last second."""
        while self._spent and self._spent[0] < now - 1:
            self._spent.popleft()
        return math.ceil(len(self._spent) * LOOKAHEAD_SECONDS)

    def _want(self) -> int:
        # What is waiting, or will be soon, not more: a token nobody spends lapses, lost to
        # every replica.
        demand = self._demand(self._clock()) - max(0, self._at_hand())
        return max(1, min(self.batch, max(self._waiting, demand)))

    def spend(self) -> None:
        """Take one message's share now (a reply): on credit when no token is at hand."""
        self._at_hand()
        self._tokens -= 1
        if self._tokens < 0:
            self._pay_soon()

    async def aclose(self) -> None:
        """Pay what is owed, then let the source go."""
        if self._background:
            await asyncio.wait(self._background)
        await self._source.aclose()

    def _pay_soon(self) -> None:
        if self._payment_waiting:
            return  # it will see this credit when its turn comes
        self._payment_waiting = True
        self._in_background(self._pay())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _pay(self) -> None:
        """Pay the credit replies ran up."""
        try:
            async with self._taking:
                self._payment_waiting = False
                if self._at_hand() < 0:
                    await self._take(0)
        except Exception as exc:
            # Kept as owed: the next take pays it.
            log.warning("rate limit: the shared budget did not answer: %r", exc)

    async def _top_up(self) -> None:
        """Take the tokens the next moments will need."""
        try:
            async with self._taking:
                if self._at_hand() < self._demand(self._clock()):
                    await self._take(self._want())
        except Exception as exc:
            log.warning("rate limit: the shared budget did not answer: %r", exc)

    async def _take(self, want: int) -> float:
        """Pay what replies owe and take up to ``want`` tokens; seconds to wait if none came."""
        owed = max(0, -self._tokens)
        self._tokens += owed
        try:
            grant = await self._source.take(
                want=want, owed=owed, rate=self.rate, capacity=self.capacity
            )
        except BaseException:
            self._tokens -= owed
            raise
        if grant.granted:
            self._tokens += grant.granted
            self._lapse_at = self._clock() + TOKEN_SECONDS
            return 0.0
        return max(0.0, (1 - grant.left) / self.rate)


class SharedBudgetRateLimiter(BaseRateLimiter[SendKind]):
    """Broadcasts keep to the message budget, and replies share it.

    Telegram's overall limit is about bulk sending, and it counts replies sent meanwhile
    too: a reply on top of a full-speed broadcast would earn a 429 that stalls both. In one
    process (``shared`` unset), replies draw on the broadcast's budget while one is under way;
    a reply still never waits long, since delivery keeps only a few sends in flight
    (bot.delivery.SENDERS) and the budget's queue is first come, first served. With no
    broadcast, replies are not held back. With ``shared``, the budget of every replica
    together (SharedBudget): replies never wait, and every reply counts, since another
    replica may be broadcasting. PTB's AIORateLimiter paces groups and honours retry_after
    for everything; bulk sends to one private chat are paced here too.
    """

    def __init__(
        self,
        *,
        messages_per_second: float = MESSAGES_PER_SECOND,
        max_retries: int = 3,
        metrics: Metrics | None = None,
        shared: TokenSource | None = None,
    ) -> None:
        self._metrics = metrics
        self._limiter = AIORateLimiter(overall_max_rate=0, max_retries=max_retries)
        self._rate = messages_per_second
        self._budget = AsyncLimiter(messages_per_second, 1)
        self._shared = (
            None
            if shared is None
            else SharedBudget(shared, messages_per_second=messages_per_second)
        )
        self._broadcasting = 0  # bulk sends waiting or in flight
        self._chats: dict[int, AsyncLimiter] = {}

    def use_rate(self, messages_per_second: float) -> None:
        """Send at this rate from now on, the bot's total (called as each broadcast begins)."""
        if messages_per_second == self._rate:
            return
        self._rate = messages_per_second
        # Sends already waiting finish on the old budget.
        self._budget = AsyncLimiter(messages_per_second, 1)
        if self._shared is not None:
            self._shared.rate = messages_per_second

    async def initialize(self) -> None:
        """Initialise the limiter."""
        await self._limiter.initialize()

    async def shutdown(self) -> None:
        """Shut the limiter down."""
        if self._shared is not None:
            await self._shared.aclose()
        await self._limiter.shutdown()

    async def process_request(  # noqa: PLR0917 - signature fixed by BaseRateLimiter
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendKind | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Route the request through the limiter for its kind."""
        broadcast = rate_limit_args is SendKind.BROADCAST
        if self._metrics is not None:
            callback = _counted(callback, self._metrics, endpoint, broadcast=broadcast)
        if not broadcast:
            if endpoint in _MESSAGE_ENDPOINTS:
                if self._shared is not None:
                    callback = _spending(callback, self._shared)
                elif self._broadcasting:
                    callback = self._budgeted(callback)
            return await self._limiter.process_request(callback, args, kwargs, endpoint, data, None)
        self._broadcasting += 1
        try:
            chat_id = data.get("chat_id")
            if isinstance(chat_id, int) and chat_id > 0:
                await self._chat_limiter(chat_id).acquire()
            return await self._limiter.process_request(
                self._budgeted(callback), args, kwargs, endpoint, data, None
            )
        finally:
            self._broadcasting -= 1

    def _budgeted(self, request: Request) -> Request:
        """The request, taking its share of the budget on every attempt, retries included."""
        budget = self._budget if self._shared is None else self._shared

        async def call(*args: Any, **kwargs: Any) -> bool | JSONDict | list[JSONDict]:
            await budget.acquire()
            return await request(*args, **kwargs)

        return call

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) >= _MAX_CHAT_LIMITERS:
                # A limiter back at full capacity remembers nothing worth keeping.
                for key, idle in list(self._chats.items()):
                    if idle.has_capacity(CHAT_BURST):
                        del self._chats[key]
            limiter = AsyncLimiter(CHAT_BURST, CHAT_BURST / CHAT_PER_SECOND)
            self._chats[chat_id] = limiter
        return limiter


Request = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


def _spending(request: Request, budget: SharedBudget) -> Request:
    """The request, spending its share of the shared budget on every attempt, without waiting."""

    async def call(*args: Any, **kwargs: Any) -> bool | JSONDict | list[JSONDict]:
        budget.spend()
        return await request(*args, **kwargs)

    return call


def _counted(request: Request, metrics: Metrics, endpoint: str, *, broadcast: bool) -> Request:
    """The request, counting accepted messages and every 429 (AIORateLimiter retries those)."""
    kind = "broadcast" if broadcast else "reply"

    async def call(*args: Any, **kwargs: Any) -> bool | JSONDict | list[JSONDict]:
        try:
            result = await request(*args, **kwargs)
        except RetryAfter:
            metrics.too_many_requests.inc()
            raise
        if endpoint in _MESSAGE_ENDPOINTS:
            metrics.messages_sent.labels(kind).inc()
        return result

    return call
