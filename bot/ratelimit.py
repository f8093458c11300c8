"""Rate limiting: broadcasts keep to the message budget, and replies share it while one runs."""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.metrics import Metrics

JSONDict = dict[str, Any]

# Telegram allows about 30 messages a second per bot, replies and broadcasts together. Sending
# at exactly the limit leaves no room for the jitter between our clock and theirs, and every
# 429 stalls everything for its retry_after. (BROADCAST_RATE overrides it, e.g. to share the
# budget between replicas.)
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


class SendKind(enum.StrEnum):
    """How a request is throttled; pass it as ``rate_limit_args`` on bulk sends."""

    BROADCAST = "broadcast"


class SharedBudgetRateLimiter(BaseRateLimiter[SendKind]):
    """Broadcasts keep to the message budget, and replies share it while one goes out.

    Telegram's overall limit is about bulk sending, and it counts replies sent meanwhile
    too: a reply on top of a full-speed broadcast would earn a 429 that stalls both. So while
    a broadcast is under way, replies draw on its budget; a reply still never waits long,
    since delivery keeps only a few sends in flight (bot.delivery.SENDERS) and the budget's
    queue is first come, first served. With no broadcast, replies are not held back. PTB's
    AIORateLimiter paces groups and honours retry_after for everything; bulk sends to one
    private chat are paced here too.
    """

    def __init__(
        self,
        *,
        messages_per_second: float = MESSAGES_PER_SECOND,
        max_retries: int = 3,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._limiter = AIORateLimiter(overall_max_rate=0, max_retries=max_retries)
        self._budget = AsyncLimiter(messages_per_second, 1)
        self._broadcasting = 0  # bulk sends waiting or in flight
        self._chats: dict[int, AsyncLimiter] = {}

    def set_broadcast_rate(self, messages_per_second: float) -> None:
        """Change the budget, e.g. for a paid broadcast round (bot.paid) and back after it."""
        if messages_per_second != self._budget.max_rate:
            # Sends already waiting finish on the old budget; the next ones take the new one.
            self._budget = AsyncLimiter(messages_per_second, 1)

    async def initialize(self) -> None:
        """Initialise the limiter."""
        await self._limiter.initialize()

    async def shutdown(self) -> None:
        """Shut the limiter down."""
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
            if self._broadcasting and endpoint in _MESSAGE_ENDPOINTS:
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

        async def call(*args: Any, **kwargs: Any) -> bool | JSONDict | list[JSONDict]:
            await self._budget.acquire()
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
