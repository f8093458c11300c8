"""Log lines as an operator's collector sees them: one line per event, no secrets."""

from __future__ import annotations

import logging

from bot.logs import KeyValueFormatter, RedactSecrets, logfmt_value
from tests.conftest import AUDIT
from tests.harness import TOKEN


def record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"boom with {TOKEN}")
        except RuntimeError as error:
            exc_info = (type(error), error, error.__traceback__)
    rec = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def test_an_event_is_one_key_value_line_with_its_traceback_inside():
    line = KeyValueFormatter().format(record("update %s failed", 7, exc=True, chat_id=42))
    assert "\n" not in line
    assert line.startswith("ts=")
    assert ' level=error logger=bot.test msg="update 7 failed" chat_id=42 exc="Traceback' in line
    assert "RuntimeError: boom" in line


def test_values_are_quoted_only_when_needed():
    assert logfmt_value("plain") == "plain"
    assert logfmt_value('say "hi"\nthen=go') == '"say \\"hi\\"\\nthen=go"'
    assert logfmt_value("") == '""'


def test_secrets_are_redacted_in_message_traceback_and_extra_fields():
    redact = RedactSecrets([TOKEN])
    rec = record("GET https://api.telegram.org/bot%s/getMe", TOKEN, exc=True, url=f"/bot{TOKEN}")
    assert redact.filter(rec)
    line = KeyValueFormatter(redact).format(rec)
    assert TOKEN not in line
    assert line.count("***") == 3


def test_the_suite_wide_log_audit_is_attached_and_catches_a_leak():
    assert AUDIT in logging.getLogger().handlers
    before = len(AUDIT.leaks)
    logging.getLogger("bot.test").warning("leaking %s on purpose", TOKEN)
    assert len(AUDIT.leaks) == before + 1
    del AUDIT.leaks[before:]  # this leak was the test's own
