"""A fake OpenAI-compatible LLM server for tests and benchmarks.

``FakeLLM`` is a real HTTP server on 127.0.0.1 serving ``POST /v1/chat/completions``.  Point an
``LLMConfig(base_url=fake.url, ...)`` at it.  By default every request gets a valid Russian
JSON summary derived deterministically from the paper in the prompt (the line
``Название: <title>`` and the abstract after ``Аннотация:``; its numbers are the abstract's), in
the shape OpenAI returns, with token usage.

Scripting, consumed by the next requests in arrival order:

* ``fail_next(503, times=2)``: error responses (OpenAI-style error body unless ``body`` is given),
  optionally with a ``Retry-After`` header;
* ``respond_next("not json")``: arbitrary message content instead of the default answer;
* ``respond_body_next(body)``: a whole response body as it is (the ``tests/fixtures/llm_*.json``
  shapes of other servers);
* ``delay_next(5)``: sleep before answering (to provoke client timeouts);
* ``trickle_next(30)``: send a space every 0.05 s for that long before the answer, as OpenRouter
  keeps a slow request alive (no read timeout ever fires);
* ``latency``: a delay added to every request (0 by default);
* ``refuses_response_format``: every request with ``response_format`` gets a 400 naming it, as
  some OpenAI-compatible servers answer.

Inspection: ``requests`` (method, path, headers, parsed JSON body), ``calls``, ``in_flight`` and
``max_in_flight``.  Use it as ``async with FakeLLM() as llm: ...``.
"""

from __future__ import annotations

import asyncio
import collections
import html
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fake_server import FakeServer

JSONDict = dict[str, Any]

# (needle in the lowercased title + abstract, tag id): the default answer's tags, in order.
TAG_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("multimodal", "mllm", "vision-language", "vision language"), "mllm"),
    (("mixture of experts", "mixture-of-experts", "moe"), "moe"),
    (("language model", "llm"), "llm"),
    (("agent",), "agents"),
    (("reasoning",), "reasoning"),
    (("reinforcement learning",), "rl"),
    (("diffusion",), "diffusion"),
    (("benchmark",), "benchmark"),
    (("image", "visual", "vision"), "cv"),
)
MAX_TAGS = 5

_TITLE_RE = re.compile(r"^\s*(?:Название|Title)\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_ABSTRACT_RE = re.compile(r"(?:Аннотация|Abstract)\s*:\s*(.*?)\s*(?:</paper>|$)", re.DOTALL)
# Standalone numbers of an abstract with their percent sign: "3.7%", "14", not "v2" or "8B".
_NUMBER_RE = re.compile(r"(?<![\w.,-])\d+(?:\.\d+)?(?:\s?%)?(?![\w.,]?\w)")

# How a server that does not know JSON mode refuses it (LM Studio's wording).
RESPONSE_FORMAT_REFUSAL: JSONDict = {
    "error": {
        "message": "'response_format.type' must be 'json_schema' or 'text'",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # the parsed body, None when it was not JSON
    received_at: float  # time.monotonic()

    def _contents(self, role: str) -> list[str]:
        messages = self.json.get("messages") if isinstance(self.json, dict) else None
        return [
            str(message.get("content", ""))
            for message in messages or []
            if isinstance(message, dict) and message.get("role") == role
        ]

    @property
    def user_message(self) -> str:
        """Content of the first user message, the paper ("" when absent)."""
        return next(iter(self._contents("user")), "")

    @property
    def followup(self) -> str:
        """The user message that asks again after an answer ("" in a first request)."""
        users = self._contents("user")
        return users[-1] if len(users) > 1 else ""

    @property
    def system_message(self) -> str:
        """Content of the first system message ("" when absent)."""
        messages = self.json.get("messages") if isinstance(self.json, dict) else None
        for message in messages or []:
            if isinstance(message, dict) and message.get("role") == "system":
                return str(message.get("content", ""))
        return ""


@dataclass(frozen=True)
class _Raw:
    status: int
    body: str | JSONDict | None
    retry_after: float | str | None


@dataclass(frozen=True)
class _Respond:
    content: str


def paper_title(user_message: str) -> str:
    """The title line of a user prompt (unescaped, as a model reads it), else its first line."""
    match = _TITLE_RE.search(user_message)
    if match:
        return html.unescape(match.group(1))
    return user_message.strip().splitlines()[0] if user_message.strip() else "статья"


def paper_abstract(user_message: str) -> str:
    """The abstract of a user prompt, unescaped ("" when there is none)."""
    match = _ABSTRACT_RE.search(user_message)
    return html.unescape(match.group(1)) if match else ""


def default_tags(text: str) -> list[JSONDict]:
    """Tags by simple keyword rules over the prompt text (see TAG_RULES), each with its quote."""
    lowered = text.lower()
    tags: list[JSONDict] = []
    for needles, tag in TAG_RULES:
        found = next((needle for needle in needles if needle in lowered), None)
        if found is not None:
            start = lowered.index(found)
            tags.append({"tag": tag, "quote": text[start : start + len(found)]})
    return tags[:MAX_TAGS]


def default_answer(user_message: str) -> JSONDict:
    """The answer object the fake gives by default, derived from the paper in the prompt."""
    title = paper_title(user_message)
    # A short name keeps the summary mostly Cyrillic even for long English titles.
    name = title.split(":", 1)[0].strip()[:60] if ":" in title else " ".join(title.split()[:3])
    # The result first, with the abstract's own numbers in Russian notation.
    numbers = [
        n.replace(".", ",").replace(" ", "")
        for n in _NUMBER_RE.findall(paper_abstract(user_message))
    ][:2]
    result = (
        f"Главный результат — {' и '.join(numbers)} в экспериментах статьи. " if numbers else ""
    )
    return {
        "title_ru": f"Обзор: {title}",
        "summary_ru": (
            f"{result}Представлен {name} — подход, который решает поставленную задачу проще и "
            "надёжнее прежних методов."
        ),
        "tags": default_tags(user_message),
    }


def count_tokens(text: str) -> int:
    """A deterministic token estimate: about four characters per token."""
    return max(1, len(text) // 4) if text else 0


class FakeLLM(FakeServer):
    """A scriptable OpenAI-compatible chat completions server on 127.0.0.1.

    ``url`` is the base_url for an OpenAI client: ``http://127.0.0.1:<port>/v1``.
    """

    url_suffix = "/v1"
    shutdown_timeout = 0.5

    def __init__(
        self, *, latency: float = 0.0, model: str = "fake-llm", api_key: str | None = None
    ) -> None:
        super().__init__()
        self.latency = latency
        self.model = model
        self.api_key = api_key  # when set, requests without "Bearer <api_key>" get a 401
        self.refuses_response_format = False
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._actions: collections.deque[_Raw | _Respond] = collections.deque()
        self._delays: collections.deque[float] = collections.deque()
        self._trickles: collections.deque[float] = collections.deque()
        self._ids = itertools.count(1)

    # --- lifecycle ----------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)

    @property
    def calls(self) -> int:
        """How many chat completion requests arrived (including failed and timed-out ones)."""
        return len(self.requests)

    # --- scripting ----------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: str | JSONDict | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next `times` requests with HTTP `status` (and a Retry-After header)."""
        self._actions.extend(_Raw(status, body, retry_after) for _ in range(times))

    def respond_next(self, content: str, times: int = 1) -> None:
        """Answer the next `times` requests with this message content instead of the default."""
        self._actions.extend(_Respond(content) for _ in range(times))

    def respond_body_next(self, body: JSONDict, times: int = 1) -> None:
        """Answer the next `times` requests with this whole response body, status 200."""
        self._actions.extend(_Raw(200, body, None) for _ in range(times))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Sleep `seconds` (on top of `latency`) before answering the next `times` requests."""
        self._delays.extend(seconds for _ in range(times))

    def trickle_next(self, seconds: float, times: int = 1) -> None:
        """Keep the next `times` responses alive with a space every 0.05 s for `seconds`."""
        self._trickles.extend(seconds for _ in range(times))

    def reset(self) -> None:
        """Forget scripted actions and recorded requests."""
        self._actions.clear()
        self._delays.clear()
        self._trickles.clear()
        self.requests.clear()
        self.max_in_flight = self.in_flight

    def make_content(self, request: RecordedRequest) -> str:
        """The default message content; override in a subclass for other behaviour."""
        return json.dumps(default_answer(request.user_message), ensure_ascii=False)

    # --- handler ------------------------------------------------------------------------------

    async def _chat_completions(self, http_request: web.Request) -> web.StreamResponse:
        raw = await http_request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        request = RecordedRequest(
            method=http_request.method,
            path=http_request.path,
            headers=dict(http_request.headers),
            json=body,
            received_at=time.monotonic(),
        )
        self.requests.append(request)
        # Scripted actions are taken in arrival order, before any sleeping.
        delay = self._delays.popleft() if self._delays else 0.0
        trickle = self._trickles.popleft() if self._trickles else 0.0
        action = self._actions.popleft() if self._actions else None
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if delay + self.latency > 0:
                await asyncio.sleep(delay + self.latency)
            response = self._respond(request, action)
            if trickle > 0:
                return await self._trickle(http_request, response, trickle)
            return response
        finally:
            self.in_flight -= 1

    async def _trickle(
        self, http_request: web.Request, response: web.Response, seconds: float
    ) -> web.StreamResponse:
        """Send `response` after `seconds` of spaces (JSON allows leading whitespace)."""
        stream = web.StreamResponse(status=response.status)
        stream.content_type = "application/json"
        await stream.prepare(http_request)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await stream.write(b" ")
            await asyncio.sleep(0.05)
        body = response.body
        assert isinstance(body, bytes | bytearray)
        await stream.write(bytes(body))
        await stream.write_eof()
        return stream

    def _respond(self, request: RecordedRequest, action: _Raw | _Respond | None) -> web.Response:
        if isinstance(action, _Raw):
            return self._raw(action)
        if self.api_key is not None and (
            request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property", "invalid_request_error")
        if self.refuses_response_format and "response_format" in body:
            return web.json_response(RESPONSE_FORMAT_REFUSAL, status=400)
        content = action.content if isinstance(action, _Respond) else self.make_content(request)
        prompt_tokens = sum(
            count_tokens(str(message.get("content", "")))
            for message in body["messages"]
            if isinstance(message, dict)
        )
        completion_tokens = count_tokens(content)
        return web.json_response(
            {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            dumps=lambda value: json.dumps(value, ensure_ascii=False),
        )

    def _raw(self, fail: _Raw) -> web.Response:
        headers = {} if fail.retry_after is None else {"Retry-After": str(fail.retry_after)}
        if fail.body is None:
            response = _error(fail.status, f"fake failure {fail.status}", "server_error")
            response.headers.update(headers)
            return response
        if isinstance(fail.body, str):
            return web.Response(status=fail.status, text=fail.body, headers=headers)
        return web.json_response(fail.body, status=fail.status, headers=headers)


def _error(status: int, message: str, error_type: str) -> web.Response:
    """An OpenAI-style error response."""
    return web.json_response(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}},
        status=status,
    )


async def _serve(port: int) -> None:
    fake = FakeLLM()
    await fake.start(port)
    print(f"fake LLM listening on {fake.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the fake LLM on its own (``python -m tests.fake_llm --port N``), e.g. for benchmarks."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8082)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
