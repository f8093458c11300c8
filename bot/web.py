"""A small HTTP server on one address, for the bot's own endpoints (metrics, feeds)."""

from __future__ import annotations

import logging

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

log = logging.getLogger(__name__)


class WebServer:
    """Serves a tornado application; started in post_init, stopped in post_shutdown."""

    def __init__(self, app: Application, *, name: str, listen: str, port: int) -> None:
        self._app = app
        self._name = name
        self._listen = listen
        self._port = port
        self._server: HTTPServer | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Listen on the configured address; port 0 picks a free one (see ``port``)."""
        sockets = bind_sockets(self._port, self._listen)
        self._server = HTTPServer(self._app)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        log.info("%s on %s:%d", self._name, self._listen, self.port)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.stop()
        await server.close_all_connections()
