"""The command line: ``digest-bot run`` and ``digest-bot db upgrade``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import MissingTokenError, build_application
from bot.logs import setup_logging
from bot.settings import Settings
from storage.db import upgrade

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
    run = sub.add_parser("run", help="run the bot (polling); migrates the database first")
    run.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
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
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        raise CliError("error: Telegram rejected BOT_TOKEN; check it with @BotFather") from None
    except NetworkError as exc:
        raise CliError(f"error: cannot reach the Telegram Bot API: {exc.message}") from None


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
