"""Rate limiting that puts people first: replies never queue behind a broadcast."""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.metrics import Metrics

JSONDict = dict[str, Any]

# Telegram allows about 30 messages a second overall. Sending at exactly the limit leaves no
# room for the jitter between our clock and theirs, and every 429 stalls the broadcast for
# its retry_after; a little under the limit costs 3% of speed and avoids nearly all of them.
# (The BROADCAST_RATE setting overrides it, e.g. to share the budget between replicas.)
BROADCAST_PER_SECOND = 29.0
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


class ReplyFirstRateLimiter(BaseRateLimiter[SendKind]):
    """Two AIORateLimiters: bulk sends obey the ~30 msg/s budget, replies skip that queue.

    Telegram's overall limit is about bulk notifications; a reply to a person who just
    wrote must not wait behind thousands of queued digest messages. Both paths keep the
    per-group limit and honour RetryAfter; bulk sends to one private chat are also paced.
    """

    def __init__(
        self,
        *,
        broadcast_per_second: float = BROADCAST_PER_SECOND,
        max_retries: int = 3,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._replies = AIORateLimiter(overall_max_rate=0, max_retries=max_retries)
        self._broadcast = AIORateLimiter(
            overall_max_rate=broadcast_per_second, max_retries=max_retries
        )
        self._chats: dict[int, AsyncLimiter] = {}

    async def initialize(self) -> None:
        """Initialise both limiters."""
        await self._replies.initialize()
        await self._broadcast.initialize()

    async def shutdown(self) -> None:
        """Shut both limiters down."""
        await self._replies.shutdown()
        await self._broadcast.shutdown()

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
            return await self._replies.process_request(callback, args, kwargs, endpoint, data, None)
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0:
            # AIORateLimiter paces groups (negative ids) only; private chats are paced here.
            async with self._chat_limiter(chat_id):
                pass
        return await self._broadcast.process_request(callback, args, kwargs, endpoint, data, None)

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
