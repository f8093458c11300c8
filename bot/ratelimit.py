"""Rate limiting that puts people first: replies never queue behind a broadcast."""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.metrics import Metrics

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
    per-group limit and honour RetryAfter.
    """

    def __init__(
        self,
        *,
        broadcast_per_second: float = 30,
        max_retries: int = 3,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._replies = AIORateLimiter(overall_max_rate=0, max_retries=max_retries)
        self._broadcast = AIORateLimiter(
            overall_max_rate=broadcast_per_second, max_retries=max_retries
        )

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
        limiter = self._broadcast if broadcast else self._replies
        if self._metrics is not None:
            callback = _counted(callback, self._metrics, endpoint, broadcast=broadcast)
        return await limiter.process_request(callback, args, kwargs, endpoint, data, None)


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
