"""The public server of Atom feeds on WEB_PORT: ``/feeds/<tag>.atom`` and nothing else."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tornado.web import Application, HTTPError, RequestHandler

from bot.web import WebServer
from content import taxonomy
from content.feeds import MEDIA_TYPE, build_feed, feed_path
from storage import feeds as stored
from storage.feeds import FeedVersion


class Feeds:
    """Builds a tag's feed, and keeps it until the tag's papers change."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        home_url: Callable[[str], str],
        publisher: str,
        public_url: str | None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._home_url = home_url
        self._publisher = publisher
        self._public_url = public_url
        # Keyed on the tag's version in the database, not on this process's ingests: an ingest
        # by another replica then shows too, and one aggregate over the tag's rows is all a
        # request costs while nothing changed.
        self._cache: dict[str, tuple[FeedVersion, bytes]] = {}

    async def atom(self, tag: taxonomy.Tag) -> bytes:
        """The tag's feed document."""
        async with self._sessionmaker() as session, session.begin():
            version = await stored.feed_version(session=session, tag=tag.id)
            cached = self._cache.get(tag.id)
            if cached is not None and cached[0] == version:
                return cached[1]
            # Read after the version, so the papers are never older than the key they go under.
            papers = await stored.feed_papers(session=session, tag=tag.id)
        body = build_feed(
            tag,
            papers,
            home_url=self._home_url(tag.id),
            publisher=self._publisher,
            self_url=f"{self._public_url}{feed_path(tag.id)}" if self._public_url else None,
        )
        # The taxonomy is fixed, so the cache holds at most one feed per tag.
        self._cache[tag.id] = (version, body)
        return body


class _FeedHandler(RequestHandler):
    def initialize(self, feeds: Feeds) -> None:
        self._feeds = feeds

    async def get(self, tag_id: str) -> None:
        tag = taxonomy.get_tag(tag_id)
        if tag is None:
            raise HTTPError(404)
        body = await self._feeds.atom(tag)
        self.set_header("Content-Type", MEDIA_TYPE)
        # finish() sets the ETag (a hash of the body) and answers a matching If-None-Match
        # with 304 and no body.
        self.finish(body)


class FeedServer(WebServer):
    """The public HTTP server of the feeds."""

    def __init__(self, *, feeds: Feeds, listen: str, port: int) -> None:
        # Only this route: everything else, /metrics and /healthz included, is a 404.
        app = Application(
            [(r"/feeds/([a-z0-9_]+)\.atom", _FeedHandler, {"feeds": feeds})],
            log_function=lambda handler: None,  # readers poll; a request is not news
        )
        super().__init__(app, name="atom feeds", listen=listen, port=port)
