"""Concurrent update processing that keeps each chat's updates in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates that may wait at once, most of them for their chat's turn. Waiting costs memory only;
# PTB's own semaphore (which counts waiting updates too) must never be what makes chats wait.
_MAX_WAITING_UPDATES = 4096


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Process different chats concurrently, one chat's updates strictly one by one.

    "/subscribe moe" followed by "/unsubscribe moe" in the same chat must apply in that order,
    and a slow reply in one chat must not hold up anyone else. So an update first waits for its
    chat's turn, and only then for one of ``max_running`` slots: a chat that sends a burst while
    its long /digest goes out queues behind itself, never in front of other chats.
    """

    def __init__(self, max_running: int) -> None:
        super().__init__(_MAX_WAITING_UPDATES)
        self._slots = asyncio.BoundedSemaphore(max_running)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiters: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's coroutine in its chat's turn, in one of the running slots."""
        key = _chat_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            # Forget idle chats so the dict does not grow with every chat ever seen.
            self._waiters[key] -= 1
            if self._waiters[key] == 0:
                del self._waiters[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None
