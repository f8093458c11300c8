"""Paper sources: HF Daily Papers and the arXiv API, fetched and parsed into Paper."""

from content.sources.base import (
    USER_AGENT,
    ParseResult,
    Skipped,
    SourceError,
    merge_papers,
    normalize_arxiv_id,
)

__all__ = [
    "USER_AGENT",
    "ParseResult",
    "Skipped",
    "SourceError",
    "merge_papers",
    "normalize_arxiv_id",
]
