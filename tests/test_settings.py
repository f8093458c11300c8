"""Settings come from the environment, with friendly list syntax."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def test_defaults_match_the_design():
    s = Settings(_env_file=None)
    assert s.database_url == "sqlite+aiosqlite:///./data/digest.db"
    assert s.default_timezone == "Europe/Moscow"
    assert s.default_digest_time == dt.time(9, 0)
    assert s.digest_max_papers == 15
    assert s.ingest_times == [dt.time(5), dt.time(7), dt.time(11), dt.time(17)]


def test_lists_are_comma_separated_in_the_environment(monkeypatch):
    monkeypatch.setenv("ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("ARXIV_CATEGORIES", "cs.CL,cs.AI")
    monkeypatch.setenv("INGEST_TIMES", "06:30,18:00")
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    s = Settings(_env_file=None)
    assert s.admin_ids == [1, 2, 3]
    assert s.arxiv_categories == ["cs.CL", "cs.AI"]
    assert s.ingest_times == [dt.time(6, 30), dt.time(18)]
    assert s.bot_token is not None and "123:abc" not in repr(s)


def test_an_unknown_timezone_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        Settings(_env_file=None, default_timezone="Mars/Olympus")


def test_env_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BOT_TOKEN=999:zzz\nLLM_BASE_URL=\n", encoding="utf-8")
    s = Settings()
    assert s.bot_token is not None and s.bot_token.get_secret_value() == "999:zzz"
    assert s.llm_base_url is None


def test_webhook_mode_needs_https_and_a_secret_telegram_accepts():
    from bot.app import webhook_config

    url = "https://bot.example.org/tg/hook"
    with pytest.raises(ValidationError, match="https"):
        Settings(_env_file=None, webhook_url="http://bot.example.org/", webhook_secret="s")
    with pytest.raises(ValidationError, match="required with WEBHOOK_URL"):
        Settings(_env_file=None, webhook_url=url)
    with pytest.raises(ValidationError, match="A-Z") as refused:
        Settings(_env_file=None, webhook_url=url, webhook_secret="no spaces!")
    assert "no spaces!" not in str(refused.value.errors()[0]["msg"])

    assert webhook_config(Settings(_env_file=None)) is None
    hook = webhook_config(Settings(_env_file=None, webhook_url=url, webhook_secret="ab-C_9"))
    assert hook is not None
    assert (hook.url, hook.url_path, hook.listen, hook.port) == (url, "tg/hook", "0.0.0.0", 8443)
    assert "ab-C_9" not in repr(hook)


def test_feeds_are_linked_only_when_served_and_given_a_public_url(monkeypatch):
    assert Settings(_env_file=None).feeds_url is None
    assert Settings(_env_file=None, public_url="https://papers.example.org").feeds_url is None
    assert Settings(_env_file=None, web_port=8080).feeds_url is None
    monkeypatch.setenv("WEB_PORT", "8080")
    monkeypatch.setenv("PUBLIC_URL", "https://papers.example.org/")
    assert Settings(_env_file=None).feeds_url == "https://papers.example.org"


def test_the_public_feeds_never_share_the_metrics_port():
    with pytest.raises(ValidationError, match="METRICS_PORT"):
        Settings(_env_file=None, web_port=9100, metrics_port=9100)
    with pytest.raises(ValidationError, match="https://"):
        Settings(_env_file=None, web_port=8080, public_url="papers.example.org")


def test_paid_broadcast_is_off_by_default_and_its_rate_at_most_telegrams_1000():
    s = Settings(_env_file=None)
    assert (s.paid_broadcast, s.paid_broadcast_rate) == (False, 300)
    on = Settings(_env_file=None, paid_broadcast="true", paid_broadcast_rate="1000")
    assert (on.paid_broadcast, on.paid_broadcast_rate) == (True, 1000)
    with pytest.raises(ValidationError, match="less than or equal to 1000"):
        Settings(_env_file=None, paid_broadcast_rate=1001)
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings(_env_file=None, paid_broadcast_rate=0)
