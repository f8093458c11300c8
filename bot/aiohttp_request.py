"""PTB's connection to the Bot API on aiohttp instead of httpx.

PTB defines ``BaseRequest`` as the seam for plugging in another asyncio HTTP client. Every
reply and every poll goes through it, and under load httpx's layers (httpcore, anyio, the
cookie jar, a readability check of the pooled socket before each request) were the largest
single cost of a command. On the load of benchmarks/updates.py, alternating rounds: a bare PTB
bot spent 1.73 ms of CPU per command on httpx and 0.62 ms on aiohttp; the bot itself 4.28 ms
and 2.93 ms. Sources and the LLM stay on httpx: they make a few requests a day.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# Errors whose text carries the request URL, and with it the bot token.
_URL_IN_MESSAGE = (aiohttp.InvalidURL, aiohttp.ClientResponseError)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds each stage of a request may take; None waits forever. PTB's defaults."""

    read: float | None = 5.0
    write: float | None = 5.0
    connect: float | None = 5.0
    pool: float | None = 1.0
    # Replaces ``write`` when the request uploads a file.
    media_write: float | None = 20.0


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` on one ``aiohttp.ClientSession``; pass it to the ApplicationBuilder.

    aiohttp has no write timeout. The stages map onto its timeouts (pool + connect: getting a
    connection, connect: opening one, read: silence while waiting for the answer), and their
    sum bounds the whole request, so a stalled upload still ends.
    """

    __slots__ = ("_pool_size", "_proxies", "_proxy_by_origin", "_session", "_timeouts")

    def __init__(self, *, connection_pool_size: int, timeouts: Timeouts | None = None) -> None:
        self._pool_size = connection_pool_size
        self._timeouts = timeouts or Timeouts()
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_by_origin: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout; PTB adds it to getUpdates' long-polling timeout."""
        return self._timeouts.read

    async def initialize(self) -> None:
        """Open the session; PTB may call this again after ``shutdown``."""
        if self._session is not None and not self._session.closed:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size),
            # The Bot API sets no cookies; a real jar would parse every response for them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY work as with httpx, which reads them
        # once, when its client is built. aiohttp's own trust_env re-reads them, and ~/.netrc,
        # on a worker thread before every request: a fifth of the bot's CPU under load.
        self._proxies = urllib.request.getproxies()
        self._proxy_by_origin = {}

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(  # noqa: PLR0917 - signature fixed by BaseRequest
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the status and the body, or raise TimedOut/NetworkError."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        defaults = self._timeouts
        read = _given(read_timeout, defaults.read)
        write = _given(write_timeout, defaults.media_write if uploads else defaults.write)
        connect = _given(connect_timeout, defaults.connect)
        pool = _given(pool_timeout, defaults.pool)
        stages = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in stages else sum(s for s in stages if s is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                headers={"User-Agent": self.USER_AGENT},
                proxy=self._proxy_for(url),
                timeout=timeout,
                # As with httpx: the Bot API never redirects, and following one would resend
                # the token to wherever it points.
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeout errors are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            detail = "" if isinstance(exc, _URL_IN_MESSAGE) else f": {exc}"
            raise NetworkError(f"aiohttp.{type(exc).__name__}{detail}") from exc

    def _proxy_for(self, url: str) -> str | None:
        if not self._proxies:
            return None
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "")
        if origin not in self._proxy_by_origin:
            # Decided once per host: proxy_bypass reads NO_PROXY from the environment anew.
            proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
            bypass = proxy is None or urllib.request.proxy_bypass(origin[1])
            self._proxy_by_origin[origin] = None if bypass else proxy
        return self._proxy_by_origin[origin]


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _body(request_data: RequestData | None) -> dict[str, str] | aiohttp.FormData | None:
    """Parameters as a urlencoded form; with files, as multipart/form-data."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData(fields)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
