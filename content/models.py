"""Domain objects shared by sources, tagging, summaries and rendering."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class Source(enum.StrEnum):
    """Where a paper was listed."""

    HF = "hf"
    ARXIV = "arxiv"


class SummaryStatus(enum.StrEnum):
    """Life cycle of a paper's Russian summary."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper as a source lists it, before our own enrichment (tags, summary).

    Text fields are already cleaned: arXiv hard line wraps joined, whitespace collapsed.
    """

    id: str  # arXiv id without version or URL, e.g. "2411.10669"
    title: str
    abstract: str
    listed_on: dt.date  # the day the source listed it (HF daily date / arXiv announcement)
    source: Source
    url: str  # where readers go: the HF paper page or the arXiv abstract page
    authors: tuple[str, ...] = ()
    published_at: dt.datetime | None = None  # arXiv publication time, UTC
    upvotes: int = 0
    github_repo: str | None = None  # HF `githubRepo`, verbatim
    project_page: str | None = None  # HF `projectPage`, verbatim
    comment: str | None = None  # arXiv `<arxiv:comment>`
    ai_keywords: tuple[str, ...] = ()  # HF `ai_keywords`
    categories: tuple[str, ...] = field(default=())  # arXiv categories


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A paper with what we found about it: its code, project page and tags."""

    paper: Paper
    code_url: str | None = None
    project_url: str | None = None
    tags: tuple[str, ...] = ()
