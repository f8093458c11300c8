"""The command line: ``digest-bot run | ingest | reembed | preview | search | db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from telegram.error import InvalidToken, NetworkError

from bot.app import MissingTokenError, build_application, run
from bot.context import utcnow
from bot.ingest import Ingestor, IngestReport, Progress, days_to_cover
from bot.logs import setup_logging
from bot.settings import Settings
from bot.vectors import EmbeddingModel, VectorService, embedding_model
from content.embeddings import RemoteModel
from content.models import Source
from content.render import PaperView, render_plain
from storage import papers as catalog
from storage.db import create_engine, create_sessionmaker, upgrade
from storage.vectors import count_without_vectors

log = logging.getLogger("bot")

NO_TOKEN = (
    "error: BOT_TOKEN is not set. Create a bot with @BotFather (https://t.me/BotFather), "
    "then put BOT_TOKEN=<token> into .env or the environment."
)


class CliError(Exception):
    """An error to print as one line, without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digest-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser(
        "run", help="run the bot (webhook with WEBHOOK_URL, else polling); migrates first"
    )
    run_cmd.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
    ingest = sub.add_parser("ingest", help="fetch, tag and summarise papers now")
    ingest.add_argument(
        "--date", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: today and yesterday, UTC)"
    )
    ingest.add_argument("--source", choices=["hf", "arxiv", "all"], default="hf")
    sub.add_parser(
        "reembed", help="embed every paper that has no vector of the current embedding model"
    )
    preview = sub.add_parser("preview", help="print papers of a tag as a digest shows them")
    preview.add_argument("--tag", required=True)
    preview.add_argument(
        "--date", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: the latest day)"
    )
    search_cmd = sub.add_parser("search", help="print the papers /search finds, best first")
    search_cmd.add_argument("query", nargs="*", help='e.g. "mixture of experts" or "#moe"')
    search_cmd.add_argument("--limit", type=int, default=10, help="how many (default: 10)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply Alembic migrations up to head")
    return parser


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Never echo the offending input: it may be a secret.
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        raise CliError(f"error: invalid setting {field}: {first['msg']}") from None


def _migrate(settings: Settings) -> None:
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        raise CliError(
            f"error: cannot migrate the database ({type(exc).__name__}); check DATABASE_URL"
        ) from exc


def _run(settings: Settings, *, migrate: bool) -> None:
    if settings.bot_token is None:
        raise CliError(NO_TOKEN)
    if migrate:
        _migrate(settings)
    try:
        app = build_application(settings)
    except MissingTokenError:
        raise CliError(NO_TOKEN) from None
    try:
        run(app)
    except InvalidToken:
        raise CliError("error: Telegram rejected BOT_TOKEN; check it with @BotFather") from None
    except NetworkError as exc:
        raise CliError(f"error: cannot reach the Telegram Bot API: {exc.message}") from None
    except OSError as exc:
        # Most likely WEBHOOK_PORT or METRICS_PORT is taken.
        raise CliError(f"error: cannot listen: {exc.strerror or exc}") from None


def _sources(choice: str) -> list[Source]:
    return [Source.HF, Source.ARXIV] if choice == "all" else [Source(choice)]


def _progress_bar() -> Progress | None:
    """A tqdm bar on a terminal; nothing when output goes to a file or CI."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm[Any]] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="paper", leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


async def _ingest(settings: Settings, days: list[dt.date], sources: list[Source]) -> IngestReport:
    engine = create_engine(settings.database_url)
    model = embedding_model(settings)
    ingestor = Ingestor(
        settings=settings, sessionmaker=create_sessionmaker(engine), clock=utcnow, embedder=model
    )
    try:
        return await ingestor.run(days, sources, _progress_bar())
    finally:
        await ingestor.aclose()
        await _close_model(model)
        await engine.dispose()


async def _close_model(model: EmbeddingModel | None) -> None:
    if isinstance(model, RemoteModel):
        await model.aclose()


async def _reembed(settings: Settings) -> str:
    model = embedding_model(settings)
    if model is None:
        raise CliError(
            "error: no embedding model: EMBEDDINGS=off, or the embedded model has no wheel "
            "for this platform (set EMBEDDING_BASE_URL to use an endpoint)"
        )
    engine = create_engine(settings.database_url)
    ingestor = Ingestor(
        settings=settings, sessionmaker=create_sessionmaker(engine), clock=utcnow, embedder=model
    )
    try:
        done = await ingestor.embed_missing(limit=None, progress=_progress_bar())
        async with create_sessionmaker(engine)() as session:
            left = await count_without_vectors(session=session, model=model.name)
    finally:
        await ingestor.aclose()
        await _close_model(model)
        await engine.dispose()
    if left:
        raise CliError(
            f"error: {done} papers embedded by {model.name}; {left} still have no vector "
            "(the log says why); run reembed again"
        )
    return f"{done} papers embedded by {model.name}; every paper has a vector"


async def _preview(settings: Settings, tag: str, day: dt.date | None) -> str:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            day = day or await catalog.latest_listing_day(session=session)
            rows = await catalog.by_tag(session=session, tag=tag, listed_on=day)
            tags = await catalog.tags_of(session=session, paper_ids=[r.id for r in rows])
    finally:
        await engine.dispose()
    views = [
        PaperView(
            id=row.id,
            title=row.title_ru or row.title,
            summary=row.summary_ru or "(краткого содержания пока нет)",
            url=row.url,
            code_url=row.code_url,
            project_url=row.project_url,
            upvotes=row.upvotes,
            tags=tuple(sorted(tags[row.id])),
        )
        for row in rows
    ]
    return render_plain(views, tag=tag, day=day)


async def _search(settings: Settings, raw: str, limit: int) -> str:
    from bot.handlers.search import view
    from content.render import card_summary
    from content.search import parse_query
    from storage import search

    query = parse_query(raw)
    if query.is_empty:
        raise CliError('error: nothing to search for; e.g. digest-bot search "mixture of experts"')
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    vectors = VectorService(model=embedding_model(settings), sessionmaker=sessionmaker)
    try:
        semantic = await vectors.semantic_soon(query)
        async with sessionmaker() as session:
            page = await search.search(
                session=session, query=query, limit=max(1, limit), semantic=semantic
            )
    finally:
        await vectors.aclose()
        await engine.dispose()
    if not page.hits:
        return f"nothing found for {query.text!r}"
    blocks = []
    if page.relaxed:
        blocks.append("(no paper has every word; these have some of them)")
    for number, hit in enumerate(page.hits, 1):
        paper = view(hit)
        lines = [f"{number}. {paper.title}", f"   {card_summary(paper)}", f"   {paper.url}"]
        if paper.code_url:
            lines.append(f"   💻 {paper.code_url}")
        if paper.tags:
            lines.append("   " + " ".join(f"#{tag}" for tag in paper.tags))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digest-bot`` console script."""
    args = _parser().parse_args(argv)
    secrets: list[str] = []
    try:
        settings = _load_settings()
        secrets = settings.secrets()
        setup_logging(settings.log_level, secrets)
        if args.command == "run":
            _run(settings, migrate=not args.no_migrate)
        elif args.command == "ingest":
            _migrate(settings)
            days = [args.date] if args.date else days_to_cover(utcnow())
            report = asyncio.run(_ingest(settings, days, _sources(args.source)))
            print(report.line())
            if not report.ok:
                raise CliError(f"error: some sources failed: {', '.join(report.failed_sources)}")
        elif args.command == "reembed":
            _migrate(settings)
            print(asyncio.run(_reembed(settings)))
        elif args.command == "preview":
            from content.taxonomy import resolve_tags

            tags = resolve_tags(args.tag).tags
            if not tags:
                raise CliError(f"error: unknown tag {args.tag!r}; see /tags in the bot")
            print(asyncio.run(_preview(settings, tags[0], args.date)))
        elif args.command == "search":
            _migrate(settings)
            print(asyncio.run(_search(settings, " ".join(args.query), args.limit)))
        elif args.command == "db":
            _migrate(settings)
            print("database is up to date")
    except CliError as exc:
        message = str(exc)
        for secret in secrets:
            message = message.replace(secret, "***")
        print(message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
