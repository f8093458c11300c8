"""How papers read in a digest: the view of a paper and its text forms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from content.ru import count, date_ru
from content.taxonomy import hashtag


@dataclass(frozen=True, slots=True)
class PaperView:
    """What a reader sees of one paper."""

    id: str
    title: str  # Russian title, or the English one when there is no summary yet
    summary: str
    url: str
    code_url: str | None = None
    project_url: str | None = None
    upvotes: int = 0
    tags: tuple[str, ...] = ()


def repo_label(code_url: str) -> str:
    """Short label of a code link: "owner/repo"."""
    return code_url.split("://", 1)[-1].split("/", 1)[-1].rstrip("/") or code_url


def render_plain(papers: Sequence[PaperView], *, tag: str, day: dt.date | None) -> str:
    """A digest as plain text, for the terminal preview."""
    when = f"на {date_ru(day)}" if day else "за всё время"
    header = (
        f"☀️ Дайджест {when} · {hashtag(tag)} · {count(len(papers), 'статья', 'статьи', 'статей')}"
    )
    blocks = [header]
    for number, paper in enumerate(papers, 1):
        lines = [f"{number}. {paper.title}", paper.summary, paper.url]
        extras = []
        if paper.code_url:
            extras.append(f"💻 {paper.code_url}")
        if paper.project_url:
            extras.append(f"🌐 {paper.project_url}")
        if paper.upvotes:
            extras.append(f"👍 {paper.upvotes}")
        if extras:
            lines.append(" · ".join(extras))
        if paper.tags:
            lines.append(" ".join(hashtag(t) for t in paper.tags))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
