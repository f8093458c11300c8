"""Logging set-up: one key=value line per event, secrets never printed."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable

REDACTED = "***"

# Libraries that log too much at INFO: httpx logs every request URL, and Bot API URLs
# contain the token; tornado's access log would record every webhook request.
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "tornado.access")

# Attributes every LogRecord has; anything else came in through ``extra=``.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_BARE_VALUE = re.compile(r"[^\s\"=\\]+")


class RedactSecrets(logging.Filter):
    """Replace known secret values in every record; the token sits in Bot API URLs."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        """The text with every known secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and traceback) without secrets."""
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def logfmt_value(value: object) -> str:
    """A value as logfmt writes it: bare when safe, else quoted with escapes, on one line."""
    text = str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…"`` plus ``extra`` fields and ``exc``: one line per event.

    Tracebacks are escaped into the same line, so a log collector never splits an event.
    ``redact`` is applied to the finished line, a second net under RedactSecrets for values
    that came in through ``extra``.
    """

    def __init__(self, redact: RedactSecrets | None = None) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one logfmt line."""
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        fields: list[tuple[str, object]] = [
            ("ts", ts.replace("+00:00", "Z")),
            ("level", record.levelname.lower()),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        fields += [(k, v) for k, v in record.__dict__.items() if k not in _RECORD_ATTRS]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields.append(("exc", record.exc_text))
        if record.stack_info:
            fields.append(("stack", record.stack_info))
        line = " ".join(f"{key}={logfmt_value(value)}" for key, value in fields)
        return self._redact.redact(line) if self._redact else line


def quiet_noisy_loggers() -> None:
    """Raise chatty libraries to WARNING (see QUIET_LOGGERS)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Configure the root logger once, for the CLI."""
    redact = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter(redact))
    handler.addFilter(redact)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_noisy_loggers()
