"""Prometheus metrics of one application, in a registry of its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from content.summarize import Summarizer


# What metrics read of bot.ingest.IngestReport and bot.delivery.DeliveryReport, declared here:
# bot.delivery imports this module (through bot.context), so importing it back is a cycle.
class IngestCounts(Protocol):
    """The counts of one ingest run."""

    new: int
    updated: int
    failed_sources: list[str]


class DeliveryCounts(Protocol):
    """The counts of one delivery tick."""

    sent_chats: int
    empty: int
    blocked: int
    failed: int


# From "sent on time" to "the bot was down for hours and catches up".
_LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600)
_INGEST_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class _LLMCollector(Collector):
    """Reads the summarizer's running totals at scrape time: no bookkeeping on the hot path."""

    def __init__(self, summarizer: Summarizer) -> None:
        self._summarizer = summarizer

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The LLM calls, tokens and summary outcomes so far."""
        calls = CounterMetricFamily("digest_llm_calls", "Requests made to the LLM")
        calls.add_metric([], self._summarizer.calls)
        tokens = CounterMetricFamily(
            "digest_llm_tokens", "Tokens the LLM reported in usage", labels=["type"]
        )
        tokens.add_metric(["prompt"], self._summarizer.prompt_tokens)
        tokens.add_metric(["completion"], self._summarizer.completion_tokens)
        summaries = CounterMetricFamily(
            "digest_summaries",
            "Summaries by outcome (done, re-asked, cut, fallback) and the reason of the last three",
            labels=["outcome", "reason"],
        )
        for (outcome, reason), count in sorted(self._summarizer.outcomes.items()):
            summaries.add_metric([outcome, reason], count)
        yield calls
        yield tokens
        yield summaries


class Metrics:
    """Every metric of the bot; tests build several applications, each with its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            "digest_updates", "Telegram updates handled, by kind", ["kind"], registry=r
        )
        self.update_errors = Counter(
            "digest_update_errors", "Updates whose handler raised", registry=r
        )
        self.messages_sent = Counter(
            "digest_messages_sent",
            "Messages Telegram accepted, by kind (reply or broadcast)",
            ["kind"],
            registry=r,
        )
        self.too_many_requests = Counter(
            "digest_telegram_429", "Bot API answers 429 Too Many Requests", registry=r
        )
        self.blocked_chats = Counter(
            "digest_blocked_chats", "Chats found blocked or gone while delivering", registry=r
        )
        self.uncertain_sends = Counter(
            "digest_uncertain_sends",
            "Digest messages sent without an answer, counted as delivered and never resent",
            registry=r,
        )
        self.digests = Counter(
            "digest_digests",
            "Scheduled digests by result (sent, empty, blocked, failed)",
            ["result"],
            registry=r,
        )
        self.delivery_lag = Histogram(
            "digest_delivery_lag_seconds",
            "Seconds from a chat's due time to its digest being sent",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.delivery_tick = Gauge(
            "digest_delivery_tick_timestamp_seconds",
            "When the last delivery tick finished (Unix time)",
            registry=r,
        )
        self.ingest_duration = Histogram(
            "digest_ingest_duration_seconds",
            "Duration of ingest runs",
            buckets=_INGEST_BUCKETS,
            registry=r,
        )
        self.ingest_papers = Counter(
            "digest_ingest_papers",
            "Papers stored by ingest, by outcome (new, updated)",
            ["outcome"],
            registry=r,
        )
        self.ingest_source_failures = Counter(
            "digest_ingest_source_failures", "Source lists ingest could not read", registry=r
        )
        self.last_ingest = Gauge(
            "digest_last_ingest_timestamp_seconds",
            "When the last ingest run finished (Unix time)",
            registry=r,
        )
        self.last_ingest_at: dt.datetime | None = None
        self.last_tick_at: dt.datetime | None = None

    def track_llm(self, summarizer: Summarizer) -> None:
        """Export the summarizer's call, token and outcome totals."""
        self.registry.register(_LLMCollector(summarizer))

    def observe_ingest(self, report: IngestCounts, seconds: float, now: dt.datetime) -> None:
        """Record one ingest run."""
        self.ingest_duration.observe(seconds)
        self.ingest_papers.labels("new").inc(report.new)
        self.ingest_papers.labels("updated").inc(report.updated)
        self.ingest_source_failures.inc(len(report.failed_sources))
        self.last_ingest.set(now.timestamp())
        self.last_ingest_at = now

    def observe_lag(self, due: dt.datetime, sent: dt.datetime) -> None:
        """Record how late a digest went out."""
        self.delivery_lag.observe(max((sent - due).total_seconds(), 0.0))

    def observe_delivery(self, report: DeliveryCounts, now: dt.datetime) -> None:
        """Record one delivery tick."""
        self.digests.labels("sent").inc(report.sent_chats)
        self.digests.labels("empty").inc(report.empty)
        self.digests.labels("blocked").inc(report.blocked)
        self.digests.labels("failed").inc(report.failed)
        self.blocked_chats.inc(report.blocked)
        self.delivery_tick.set(now.timestamp())
        self.last_tick_at = now
