"""Typed settings: the only place that reads the environment (and `.env`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Comma-separated lists are friendlier in `.env` files than JSON arrays.
CommaList = Annotated[list[str], NoDecode]
IntList = Annotated[list[int], NoDecode]
TimeList = Annotated[list[dt.time], NoDecode]
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the bot, from environment variables or `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr | None = Field(default=None, description="Token from @BotFather")
    database_url: str = "sqlite+aiosqlite:///./data/digest.db"
    telegram_api_url: str = "https://api.telegram.org"

    hf_api_url: str = "https://huggingface.co/api"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_categories: CommaList = Field(default_factory=lambda: ["cs.CL", "cs.CV", "cs.LG"])
    arxiv_enabled: bool = False

    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_concurrency: int = Field(default=4, ge=1, le=64)
    # Room for the JSON answer and some reasoning; a reasoning model is not let think for pages.
    llm_max_tokens: int = Field(default=1024, ge=128, le=32768)
    summary_deadline: dt.timedelta = dt.timedelta(hours=6)

    # Paper embeddings: "on" uses EMBEDDING_BASE_URL when set, else the embedded model where
    # its wheel exists; "off" matches words only.
    embeddings: Literal["on", "off"] = "on"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str = "text-embedding-3-small"

    default_timezone: str = "Europe/Moscow"
    default_digest_time: dt.time = dt.time(9, 0)
    ingest_times: TimeList = Field(
        default_factory=lambda: [dt.time(5), dt.time(7), dt.time(11), dt.time(17)]
    )
    digest_max_papers: int = Field(default=15, ge=1, le=50)
    max_subscriptions: int = Field(default=50, ge=1, le=500)
    # Followed words and authors together, and muted words and tags together, per chat.
    max_follows: int = Field(default=50, ge=1, le=500)
    max_mutes: int = Field(default=50, ge=1, le=500)
    admin_ids: IntList = Field(default_factory=list)
    # How long a sender's claim on a chat's digest holds; after a crash, the digests that were
    # being sent resume once it expires. Longer than sending one digest ever takes.
    delivery_lease: dt.timedelta = Field(default=dt.timedelta(minutes=2), gt=dt.timedelta(0))
    # How often due digests are looked for; a digest goes out within this of its minute.
    delivery_interval: dt.timedelta = Field(default=dt.timedelta(minutes=1), gt=dt.timedelta(0))
    # Messages a second from the whole bot, digests and replies together: on PostgreSQL every
    # replica draws on one budget. Telegram allows about 30 a second per bot; just under 30
    # avoids 429s from jitter.
    broadcast_rate: float = Field(default=29.0, gt=0)
    # Paid broadcasts (bot.paid): digests go out with allow_paid_broadcast at PAID_BROADCAST_RATE
    # a second, digests and replies together, when the Star balance covers a round; Telegram
    # allows at most 1,000 a second and bills 0.1 Star for each message above the free 30.
    paid_broadcast: bool = False
    paid_broadcast_rate: float = Field(default=300.0, gt=0, le=1000)
    # Ingest the latest INGEST_TIMES occurrence at start-up if no replica has done it yet.
    ingest_on_start: bool = True

    webhook_url: str | None = None
    # Checked even when unset: webhook mode refuses to start without one.
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_listen: str = "0.0.0.0"  # a container listens on all interfaces
    webhook_port: int = 8443

    log_level: str = "INFO"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_listen: str = "0.0.0.0"  # a container's HEALTHCHECK and Prometheus reach it

    # The public server of Atom feeds, /feeds/<tag>.atom; unset, no feeds are served.
    web_port: int | None = Field(default=None, ge=0, le=65535)
    web_listen: str = "0.0.0.0"
    # Where readers reach WEB_PORT (behind a proxy, its https:// address): /help links to the
    # feeds only when it is set.
    public_url: str | None = None

    @field_validator("arxiv_categories", "admin_ids", "ingest_times", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @field_validator("embeddings", mode="before")
    @classmethod
    def _lower_switch(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "llm_base_url",
        "embedding_base_url",
        "webhook_url",
        "metrics_port",
        "web_port",
        "public_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme != "https":
            raise ValueError("Telegram only calls https:// webhook URLs")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_public_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("an http:// or https:// URL, e.g. https://papers.example.org")
        return value.rstrip("/") if value is not None else None

    @field_validator("web_port")
    @classmethod
    def _feeds_apart_from_metrics(cls, value: int | None, info: ValidationInfo) -> int | None:
        # One port for both would publish /metrics and /healthz with the feeds.
        if value and value == info.data.get("metrics_port"):
            raise ValueError("the feeds are public: use another port than METRICS_PORT")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Never echo the value: these messages reach the terminal.
        if value is not None and not _SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("use 1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        if value is None and info.data.get("webhook_url"):
            raise ValueError(
                "required with WEBHOOK_URL: Telegram sends it with every update, so forged "
                "requests are refused; e.g. `openssl rand -hex 32`"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        """The default timezone as a ZoneInfo."""
        return ZoneInfo(self.default_timezone)

    @property
    def feeds_url(self) -> str | None:
        """The public base of the Atom feeds, or None when they are not served or not linked."""
        return self.public_url if self.web_port is not None else None

    def secrets(self) -> list[str]:
        """Secret values that must never appear in logs."""
        found = [self.bot_token, self.llm_api_key, self.embedding_api_key, self.webhook_secret]
        return [s.get_secret_value() for s in found if s and s.get_secret_value()]
