"""What every paper source shares: errors, parse results, ids, text cleaning, HTTP retries."""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

import httpx
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import WaitBaseT

from content.models import Paper, Source

USER_AGENT: Final[str] = "ai-digest-bot/0.1 (+https://github.com/ai-digest-bot)"
"""Sent with every request, so both services can see who is calling."""

RETRYABLE_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})

# New-style ids (2411.10669) and old-style ones (hep-th/9901001, math.GT/0309136), as the tail
# of whatever wraps them: a URL, "arXiv:", HF's "hf" prefix, a version, ".pdf".
_ARXIV_ID: Final = re.compile(
    r"(?<![\w.])(?:arxiv:|hf)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})"
    r"(?:v\d+)?(?:\.pdf)?/?$",
    re.IGNORECASE,
)


class SourceError(Exception):
    """A source could not be read; the message says which list and why."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item of a source's response that did not become a Paper, and why."""

    index: int  # position in the response
    reason: str
    id: str | None = None  # the raw id, when the item had one


@dataclass(slots=True)
class ParseResult:
    """Papers parsed from one response, plus the items that were skipped."""

    papers: list[Paper] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def normalize_arxiv_id(raw: str) -> str | None:
    """The bare arXiv id in an id, URL or HF id (no version, no prefix), or None."""
    text = raw.strip().split("?", 1)[0].split("#", 1)[0]
    match = _ARXIV_ID.search(text)
    return match.group("id") if match else None


def clean_text(value: object) -> str | None:
    """A string with arXiv's hard line wraps joined and whitespace collapsed; None if empty."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


async def get_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    attempts: int,
    wait: WaitBaseT,
    retry_statuses: Container[int] = RETRYABLE_STATUSES,
    limiter: AsyncLimiter | None = None,
) -> httpx.Response:
    """GET `url`, retrying throttling, server errors and network failures; else SourceError.

    `what` names the list in error messages ("HF daily papers for 2024-12-19"). With a
    `limiter`, every attempt, retries included, waits for its turn.
    """

    async def attempt() -> httpx.Response:
        if limiter is not None:
            await limiter.acquire()
        response = await client.get(url, params=params, headers=headers)
        if response.status_code in retry_statuses:
            raise _RetryableStatus(response)
        return response

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError)),
        reraise=True,
    )
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    try:
        response: httpx.Response = await retrying(attempt)
    except _RetryableStatus as exc:
        status = exc.response.status_code
        raise SourceError(f"{what}: HTTP {status} after {tries}") from None
    except httpx.TimeoutException as exc:
        raise SourceError(f"{what}: timed out after {tries} ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise SourceError(f"{what}: network error after {tries}: {exc!r}") from exc
    if response.is_error:
        excerpt = " ".join(response.text[:200].split())
        raise SourceError(f"{what}: HTTP {response.status_code}: {excerpt}")
    return response


def merge_papers(*lists: Iterable[Paper]) -> list[Paper]:
    """One Paper per id, in order of first appearance, combining what each source knows.

    HF's listing wins (its page, date, upvotes, githubRepo, projectPage, ai_keywords); arXiv
    adds its comment and categories, and authors or dates HF lacked. Within one source the
    first occurrence wins.
    """
    groups: dict[str, list[Paper]] = {}
    for papers in lists:
        for paper in papers:
            groups.setdefault(paper.id, []).append(paper)
    return [_merge_group(group) for group in groups.values()]


def _merge_group(group: list[Paper]) -> Paper:
    hf = next((p for p in group if p.source is Source.HF), None)
    arxiv = next((p for p in group if p.source is Source.ARXIV), None)
    if hf is None or arxiv is None:
        return group[0]
    return replace(
        hf,
        authors=hf.authors or arxiv.authors,
        published_at=hf.published_at or arxiv.published_at,
        comment=arxiv.comment if arxiv.comment is not None else hf.comment,
        categories=arxiv.categories or hf.categories,
    )
