"""The aiohttp lifecycle shared by the fake HTTP servers the tests talk to.

A subclass adds its routes in ``_add_routes`` and may set ``url_suffix``, ``client_max_size`` and
``shutdown_timeout`` or override ``_on_start`` and ``_on_stop``. Use it as
``async with Fake() as fake: ...`` or call ``start`` and ``stop``.
"""

from __future__ import annotations

from typing import ClassVar, Self

from aiohttp import web


class FakeServer:
    """A real HTTP server on 127.0.0.1 (by default) that subclasses fill with routes."""

    url_suffix: ClassVar[str] = ""
    """Appended to ``http://host:port`` in ``url`` (e.g. ``/v1`` for an OpenAI base_url)."""
    client_max_size: ClassVar[int] = 1024**2  # aiohttp's default
    """The largest request body the server accepts, in bytes."""
    shutdown_timeout: ClassVar[float] = 1.0
    """Seconds ``stop`` waits for handlers still running."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    def _add_routes(self, app: web.Application) -> None:
        """Register the fake's handlers on a fresh application."""
        raise NotImplementedError

    def _on_start(self) -> None:
        """Prepare per-run state before the server listens."""

    def _on_stop(self) -> None:
        """Release waiting handlers before the server shuts down."""

    async def start(self, port: int = 0, *, host: str = "127.0.0.1") -> None:
        """Listen on ``host:port`` (a free port by default)."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._on_start()
        app = web.Application(client_max_size=self.client_max_size)
        self._add_routes(app)
        # handler_cancellation: a client that drops a request (a long poll, a timed-out call)
        # must not leave its handler running here.
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            shutdown_timeout=self.shutdown_timeout,
            access_log=None,
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._url = f"http://{host}:{int(runner.addresses[0][1])}{self.url_suffix}"

    async def stop(self) -> None:
        """Shut the server down; a no-op when it is not running."""
        if self._runner is None:
            return
        self._on_stop()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def url(self) -> str:
        """The server's base URL: ``http://host:port`` plus ``url_suffix``."""
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._url
