"""The bot's connection to the Bot API (aiohttp under PTB's Bot) behaves as PTB's own does.

Every end-to-end test already runs the bot through it; these cover what they do not reach:
uploads, timeouts, an exhausted pool, proxies from the environment, redirects, and errors
that must not carry the token.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.aiohttp_request import AiohttpRequest, Timeouts
from tests.fake_server import FakeServer
from tests.fake_telegram import FakeTelegram

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
ME = {"id": 123456, "is_bot": True, "first_name": "Digest", "username": "digest_test_bot"}
SHORT = Timeouts(read=0.3, write=0.3, connect=0.3, pool=0.1, media_write=0.3)


@dataclass
class Upload:
    """One multipart part as the server received it."""

    filename: str | None
    content_type: str
    content: bytes


class Recorder(FakeServer):
    """A Bot API stand-in that records what arrives and answers slowly or with a redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        self.redirect = False
        self.fields: list[dict[str, str]] = []
        self.uploads: list[dict[str, Upload]] = []

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_post("/elsewhere", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info.get("method") == "getMe":
            return web.json_response({"ok": True, "result": ME})
        form = await request.post()
        self.fields.append({k: v for k, v in form.items() if isinstance(v, str)})
        self.uploads.append(
            {
                k: Upload(v.filename, v.content_type, v.file.read())
                for k, v in form.items()
                if isinstance(v, web.FileField)
            }
        )
        if self.redirect:
            raise web.HTTPTemporaryRedirect("/elsewhere")
        await asyncio.sleep(self.delay)
        message = {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}}
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    async with Recorder() as server:
        yield server


def bot_for(url: str, **request: Any) -> Bot:
    """A PTB Bot on the bot's own transport, as build_application wires it."""
    return Bot(
        TOKEN,
        base_url=f"{url}/bot",
        request=AiohttpRequest(connection_pool_size=request.pop("pool", 8), **request),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_document_is_uploaded_as_multipart_with_its_name_and_type(recorder):
    async with bot_for(recorder.url) as bot:
        await bot.send_document(42, b"%PDF-1.7 paper", filename="paper.pdf", caption="статья")
    assert recorder.fields[-1]["chat_id"] == "42"
    assert recorder.fields[-1]["caption"] == "статья"
    upload = next(iter(recorder.uploads[-1].values()))
    assert upload == Upload("paper.pdf", "application/pdf", b"%PDF-1.7 paper")


async def test_plain_parameters_are_a_form_as_with_httpx(recorder):
    async with bot_for(recorder.url) as bot:
        await bot.send_message(42, "<b>привет</b>", parse_mode="HTML")
    assert recorder.fields[-1] == {"chat_id": "42", "text": "<b>привет</b>", "parse_mode": "HTML"}
    assert recorder.uploads[-1] == {}


async def test_a_server_that_does_not_answer_times_out(recorder):
    recorder.delay = 5
    async with bot_for(recorder.url, timeouts=SHORT) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(42, "hi")


async def test_a_longer_read_timeout_per_call_waits_longer(recorder):
    recorder.delay = 0.5
    async with bot_for(recorder.url, timeouts=SHORT) as bot:
        message = await bot.send_message(42, "hi", read_timeout=3)
    assert message.message_id == 1


async def test_when_every_connection_is_busy_the_next_request_times_out(recorder):
    recorder.delay = 1
    async with bot_for(recorder.url, pool=1, timeouts=SHORT) as bot:
        slow = asyncio.create_task(bot.send_message(42, "first", read_timeout=3))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut):
            await bot.send_message(42, "second")
        await slow


async def test_an_unreachable_api_is_a_network_error_without_the_token():
    with pytest.raises(NetworkError) as caught:
        async with bot_for(f"http://127.0.0.1:{closed_port()}", timeouts=SHORT):
            pass
    assert not isinstance(caught.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in caught.value.message
    assert TOKEN not in caught.value.message
    assert TOKEN.split(":")[1] not in str(caught.value)


async def test_a_redirect_is_not_followed(recorder):
    recorder.redirect = True
    async with bot_for(recorder.url) as bot:
        with pytest.raises(NetworkError):
            await bot.send_message(42, "hi")
    assert len(recorder.fields) == 1  # nothing reached /elsewhere


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
async def test_a_proxy_from_the_environment_carries_the_requests(monkeypatch, variable):
    # The fake Telegram plays the proxy: it serves the Bot API paths of absolute-form requests.
    # Telegram's own host does not resolve here, so only the proxy can answer.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    async with FakeTelegram(TOKEN) as proxy:
        monkeypatch.setenv(variable, proxy.url)
        async with bot_for("http://api.telegram.invalid") as bot:
            assert bot.username == proxy.bot_username
        monkeypatch.setenv("NO_PROXY", "api.telegram.invalid")
        with pytest.raises(NetworkError):
            async with bot_for("http://api.telegram.invalid", timeouts=SHORT):
                pass


async def test_requests_before_initialize_or_after_shutdown_are_refused(recorder):
    request = AiohttpRequest(connection_pool_size=1)
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{recorder.url}/bot{TOKEN}/getMe")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{recorder.url}/bot{TOKEN}/getMe")
    # PTB initialises a request again after a shutdown (e.g. a restarted Application).
    await request.initialize()
    assert await request.post(f"{recorder.url}/bot{TOKEN}/getMe")
    await request.shutdown()
