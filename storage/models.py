"""ORM models: chats, their subscriptions and follows, papers, and the digest bookkeeping."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamp stored as UTC and always read back as an aware UTC datetime.

    SQLite has no timezone-aware type and drops ``tzinfo`` on read, so values are normalised
    to UTC before binding and re-labelled as UTC after loading; PostgreSQL gets the same
    normalisation, which keeps the two dialects indistinguishable for callers.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Normalise an aware datetime to UTC; refuse naive ones."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive value is ambiguous (server-local? UTC?); failing loudly beats guessing.
            raise ValueError(f"naive datetime is not allowed here: {value!r}")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to values SQLite returns naive; convert aware ones to UTC."""
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"unexpected value for a datetime column: {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Deterministic constraint names keep migrations reproducible and let SQLite batch mode
# address constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base sharing one metadata with a fixed naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Chat(Base):
    """A Telegram chat (private or group) that receives digests."""

    __tablename__ = "chats"
    # Due chats are read oldest first, ties by id: the index serves that order directly, so
    # each batch of a broadcast reads its rows instead of sorting every due chat.
    __table_args__ = (Index("ix_chats_due", "next_digest_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    digest_time: Mapped[dt.time] = mapped_column(Time)
    next_digest_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A sender (tick, replica) that claimed the chat's due digest holds it until then.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A content.render.DigestFormat value: "full", or "compact" (summaries folded).
    digest_format: Mapped[str] = mapped_column(
        String(16), default="full", server_default=text("'full'")
    )
    # Weekly chats get one digest on this local weekday (Monday is 0); NULL means daily.
    digest_weekday: Mapped[int | None] = mapped_column(SmallInteger)
    # The group's or channel's title as last seen, to name it in a private chat that runs it.
    title: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatAdmin(Base):
    """A user who added the bot to a group or channel, or ran it from a private chat.

    Only candidates for /channels: every use is confirmed with ``getChatMember`` first.
    """

    __tablename__ = "chat_admins"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ManagedChat(Base):
    """The group or channel a user's private chat currently runs (/channels)."""

    __tablename__ = "managed_chats"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """A chat's subscription to one topic tag."""

    __tablename__ = "subscriptions"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Paper(Base):
    """A paper listing (arXiv id without version) with its Russian summary state."""

    __tablename__ = "papers"
    # Search ranks up to a thousand candidates by date; this index answers id -> listed_on
    # without reading the wide rows (abstracts) of the table.
    __table_args__ = (Index("ix_papers_id_listed_on", "id", "listed_on"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    listed_on: Mapped[dt.date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    project_url: Mapped[str | None] = mapped_column(Text)
    upvotes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    title_ru: Mapped[str | None] = mapped_column(Text)
    summary_ru: Mapped[str | None] = mapped_column(Text)
    # One of: pending, done, failed, fallback.
    summary_status: Mapped[str] = mapped_column(
        String(16), default="pending", server_default=text("'pending'")
    )
    summary_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaperTag(Base):
    """A topic tag assigned to a paper."""

    __tablename__ = "paper_tags"

    paper_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class PaperVector(Base):
    """A paper's embedding, by one model: float16 little-endian, L2-normalised."""

    __tablename__ = "paper_vectors"
    # A model's vectors, and those added since a moment: how each process tops up its index.
    __table_args__ = (Index("ix_paper_vectors_model_created_at", "model", "created_at"),)

    paper_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    # Which model made it: vectors of another model are never compared with these.
    model: Mapped[str] = mapped_column(String(128))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follow(Base):
    """A chat's followed word or author, or a muted word or tag."""

    __tablename__ = "follows"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    # One of: word, author, mute_word, mute_tag.
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The normalised form that matching and duplicates go by.
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # As the user wrote it, for lists and the 📌 line.
    text: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Feedback(Base):
    """A chat's 👍 (+1) or 👎 (-1) on a paper; weight 2 for a suggestion it did not want."""

    __tablename__ = "feedback"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    vote: Mapped[int] = mapped_column(SmallInteger)
    weight: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """A paper already sent to a chat, so it is never sent twice."""

    __tablename__ = "deliveries"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    delivered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The code link the chat has seen of the paper: in the delivered message, or told later
    # under «Код появился». None while the chat knows of no code.
    code_url_sent: Mapped[str | None] = mapped_column(Text)


class DigestRun(Base):
    """One attempt-tracked digest for a chat's local calendar day."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("chat_id", "local_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False
    )
    local_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One scheduled occurrence of a job, claimed by the replica that runs it."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SavedQuery(Base):
    """A search query behind "more" buttons, by a short id that fits in callback data."""

    __tablename__ = "search_queries"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    # Forgotten some time after the last use; its buttons then ask for a new search.
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class RateBudget(Base):
    """The bot's message budget, a token bucket that every replica draws on (one row)."""

    __tablename__ = "rate_budget"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Tokens left at ``stamp``; below zero when replies were sent on credit.
    tokens: Mapped[float] = mapped_column(Double)
    # Seconds since the epoch by the database's clock, the one clock all replicas share.
    stamp: Mapped[float] = mapped_column(Double)
    # What the last take granted: RETURNING sees only the new row, SET only the old one.
    granted: Mapped[int] = mapped_column(Integer)
