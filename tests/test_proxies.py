"""`HTTPS_PROXY=http://…` and `ALL_PROXY=socks5://…` each carry all of the bot's traffic.

The bot is pointed at host names that exist only inside the test's proxies (``*.test``, which
never resolve), so a request that bypassed the proxy could not be answered at all. Each name is
served over TLS, with a certificate from a test CA the bot trusts through ``SSL_CERT_FILE``, as
the real Telegram, HuggingFace, arXiv and LLM endpoints are: an HTTP proxy is asked to
``CONNECT``, exactly as in production. The proxies below are small fixtures rather than a
proxy package because they must resolve the test's own host names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import pytest
import trustme

from content.models import Source
from storage.db import upgrade_async
from tests.fake_llm import FakeLLM
from tests.fake_sources import ARXIV_PATH, HF_PATH, FakeSources
from tests.fake_telegram import FakeTelegram
from tests.harness import LLM_API_KEY, TOKEN, make_settings, running_bot

FIXTURES = Path(__file__).parent / "fixtures"
DAY = dt.date(2024, 12, 19)
TELEGRAM, HF, ARXIV, LLM = "api.telegram.test", "hf.test", "arxiv.test", "llm.test"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(2**16):
        writer.write(data)
        await writer.drain()


async def _splice(client: Stream, upstream: Stream) -> None:
    """Copy bytes both ways until either side closes."""
    copies = [
        asyncio.ensure_future(_copy(client[0], upstream[1])),
        asyncio.ensure_future(_copy(upstream[0], client[1])),
    ]
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for copy in copies:
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)


class _TcpServer:
    """A TCP server on 127.0.0.1 that drops its open connections when it stops."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    async def serve(self, client: Stream) -> None:
        """Handle one accepted connection."""
        raise NotImplementedError

    async def tunnel(self, client: Stream, port: int) -> None:
        """Connect to 127.0.0.1:port and relay bytes between it and the client."""
        upstream = await asyncio.open_connection("127.0.0.1", port)
        try:
            await _splice(client, upstream)
        finally:
            upstream[1].close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self.serve((reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()


class TlsFront(_TcpServer):
    """HTTPS in front of a plain-HTTP fake, as a real service's TLS terminator."""

    def __init__(self, tls: ssl.SSLContext, backend_port: int) -> None:
        super().__init__(tls=tls)
        self._backend_port = backend_port

    async def serve(self, client: Stream) -> None:
        """Relay the decrypted stream to the fake."""
        await self.tunnel(client, self._backend_port)


class _Proxy(_TcpServer):
    """A forward proxy that knows the test's hosts; it records every tunnel it is asked for."""

    def __init__(self, hosts: dict[tuple[str, int], int]) -> None:
        super().__init__()
        self._hosts = hosts
        self.requests: list[str] = []

    def route(self, host: str, port: int) -> int | None:
        """The local port that serves host:port, or None for a host the test does not know."""
        return self._hosts.get((host, port))


class HttpProxy(_Proxy):
    """An HTTP proxy that only tunnels (CONNECT), as HTTPS through an HTTP proxy needs."""

    async def serve(self, client: Stream) -> None:
        """Answer one CONNECT request and tunnel the rest of the connection."""
        reader, writer = client
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        self.requests.append(f"{method} {target}")
        host, _, port = target.rpartition(":")
        local = self.route(host, int(port)) if method == "CONNECT" and port.isdigit() else None
        if local is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self.tunnel(client, local)


class Socks5Proxy(_Proxy):
    """A SOCKS5 server (RFC 1928): no authentication, CONNECT only."""

    async def serve(self, client: Stream) -> None:
        """Negotiate, read the CONNECT target and tunnel the rest of the connection."""
        reader, writer = client
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")  # no acceptable authentication method
            return
        writer.write(b"\x05\x00")
        _, command, _, address_type = await reader.readexactly(4)
        if address_type == 3:  # a domain name: the proxy resolves it
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        elif address_type == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif address_type == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            return
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.requests.append(f"{'CONNECT' if command == 1 else command} {host}:{port}")
        local = self.route(host, port) if command == 1 else None
        bound = b"\x00\x01" + bytes(6)  # reserved, IPv4, 0.0.0.0:0
        if local is None:
            writer.write(b"\x05\x04" + bound)  # host unreachable
            return
        writer.write(b"\x05\x00" + bound)
        await self.tunnel(client, local)


@contextlib.asynccontextmanager
async def proxied_services(
    kind: str, telegram: FakeTelegram, sources: FakeSources, llm: FakeLLM, ca: trustme.CA
) -> AsyncIterator[_Proxy]:
    """The fakes behind HTTPS fronts at their ``*.test`` names, reachable only via the proxy."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(TELEGRAM, HF, ARXIV, LLM).configure_cert(tls)
    backends = {
        TELEGRAM: telegram.url,
        HF: sources.url,
        ARXIV: sources.url,
        LLM: llm.url,
    }
    async with contextlib.AsyncExitStack() as stack:
        hosts: dict[tuple[str, int], int] = {}
        for host, url in backends.items():
            backend_port = urlsplit(url).port
            assert backend_port is not None
            front = await stack.enter_async_context(TlsFront(tls, backend_port))
            hosts[host, 443] = front.port
        proxy_class = HttpProxy if kind == "http" else Socks5Proxy
        yield await stack.enter_async_context(proxy_class(hosts))


@pytest.mark.parametrize(
    ("variable", "kind"),
    [("HTTPS_PROXY", "http"), ("ALL_PROXY", "socks5"), ("ALL_PROXY", "http")],
    ids=["HTTPS_PROXY=http", "ALL_PROXY=socks5", "ALL_PROXY=http"],
)
async def test_the_proxy_in_the_environment_carries_every_request_of_the_bot(
    tmp_path, monkeypatch, variable, kind
):
    """Updates, replies, both paper sources and the LLM all go through the one proxy."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}"
    await upgrade_async(db_url)
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with (
        FakeTelegram(TOKEN) as telegram,
        FakeSources() as sources,
        FakeLLM() as llm,
        proxied_services(kind, telegram, sources, llm, ca) as proxy,
    ):
        sources.hf_days[DAY] = (FIXTURES / "hf_daily_2024-12-19.json").read_bytes()
        sources.arxiv_response = (FIXTURES / "arxiv_cs_sample.xml").read_bytes()
        # Only this variable: a NO_PROXY (or another proxy) on the machine must not leak in.
        for name in PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        monkeypatch.setenv(variable, f"{kind}://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        settings = make_settings(
            telegram,
            db_url,
            telegram_api_url=f"https://{TELEGRAM}",
            hf_api_url=f"https://{HF}/api",
            arxiv_api_url=f"https://{ARXIV}{ARXIV_PATH}",
            llm_base_url=f"https://{LLM}/v1",
            llm_api_key=LLM_API_KEY,
        )
        async with running_bot(settings) as app:
            telegram.send_text(42, "/subscribe mllm")
            [reply] = await telegram.wait_for_messages(42, 1, timeout=15)
            assert "Подписка оформлена" in reply.plain
            report = await app.bot_data.services.ingestor.run([DAY], [Source.HF, Source.ARXIV])

    assert report.ok and report.summarised == report.papers > 0
    assert telegram.calls("getMe") and telegram.calls("getUpdates")
    assert sources.requests_to(HF_PATH) and sources.requests_to(ARXIV_PATH)
    assert llm.calls == report.llm_calls > 0
    assert {request.split(" ")[0] for request in proxy.requests} == {"CONNECT"}
    assert {request.split(" ")[1] for request in proxy.requests} == {
        f"{host}:443" for host in (TELEGRAM, HF, ARXIV, LLM)
    }
