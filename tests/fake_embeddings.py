"""A fake OpenAI-compatible embeddings server: ``POST /v1/embeddings`` on 127.0.0.1.

It answers in the shape OpenAI's API does: ``{"object": "list", "data": [{"object":
"embedding", "index": i, "embedding": ...}], "model": ..., "usage": {...}}``, the embedding
base64 of little-endian float32 when the request asks for ``encoding_format: "base64"`` (as
the official client does by default) and a list of floats otherwise. ``ignores_format``
makes it answer floats whatever was asked, as some OpenAI-compatible servers do.

A text's vector is a bag of its hashed words (``dims`` wide), not normalised, so texts that
share words are close and the client has to normalise. Scripting: ``fail_next(500, times=2)``;
``respond_body_next(body)`` for a whole broken answer. Inspection: ``requests`` (parsed JSON
bodies with their Authorization header).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import re
from typing import Any

import numpy as np
from aiohttp import web

from tests.fake_server import FakeServer

JSONDict = dict[str, Any]
_WORD = re.compile(r"\w+")


def bag_of_words(text: str, dims: int) -> list[float]:
    """The fake model's vector of a text: each word adds 1 at a hashed position (scaled by 3)."""
    vector = np.zeros(dims, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % dims] += 3.0
    if not vector.any():
        vector[0] = 1.0
    return [float(x) for x in vector]


class FakeEmbeddings(FakeServer):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint with scriptable failures."""

    url_suffix = "/v1"

    def __init__(self, *, dims: int = 64, ignores_format: bool = False) -> None:
        super().__init__()
        self.dims = dims
        self.ignores_format = ignores_format
        self.requests: list[tuple[str | None, JSONDict]] = []
        self._failures: collections.deque[int] = collections.deque()
        self._bodies: collections.deque[JSONDict] = collections.deque()

    @property
    def texts(self) -> list[str]:
        """Every text the server was asked to embed, in order."""
        found: list[str] = []
        for _, body in self.requests:
            given = body["input"]
            found += [given] if isinstance(given, str) else given
        return found

    def fail_next(self, status: int = 500, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with this HTTP error."""
        self._failures.extend([status] * times)

    def respond_body_next(self, body: JSONDict) -> None:
        """Answer the next request with this JSON body as it is."""
        self._bodies.append(body)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/embeddings", self._embeddings)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body: JSONDict = await request.json()
        self.requests.append((request.headers.get("Authorization"), body))
        if self._failures:
            status = self._failures.popleft()
            error = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
            return web.json_response(error, status=status)
        if self._bodies:
            return web.json_response(self._bodies.popleft())
        given = body.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            error = {"error": {"message": "'input' is invalid", "type": "invalid_request_error"}}
            return web.json_response(error, status=400)
        as_base64 = body.get("encoding_format") == "base64" and not self.ignores_format
        data = []
        for index, text in enumerate(texts):
            vector = bag_of_words(text, self.dims)
            embedding: Any = (
                base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                if as_base64
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(_WORD.findall(text)) for text in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
