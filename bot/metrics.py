"""Prometheus metrics: runs by status, queue length, calls and errors, notification latency."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from storage.store import Store


class _StoreCollector(Collector):
    """Gauges read from storage at scrape time, so they are right even after a restart."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily("codegen_slack_runs", "Runs known to the bot, by status", labels=["status"])
        for status, count in self._store.count_runs_by_status().items():
            runs.add_metric([status], count)
        yield runs
        queue = GaugeMetricFamily(
            "codegen_slack_queue_length", "Requests not yet delivered to Codegen", labels=["kind"]
        )
        for kind in ("create", "resume"):
            queue.add_metric([kind], len(self._store.pending_requests(kind)))
        yield queue


class Metrics:
    """One registry per bot (so several bots can live in one test process)."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.codegen_calls = Counter(
            "codegen_slack_codegen_calls",
            "Codegen API calls by limit class and outcome",
            ["limit_class", "outcome"],
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "codegen_slack_slack_calls",
            "Slack Web API calls by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.notification_latency = Histogram(
            "codegen_slack_notification_latency_seconds",
            "From the watcher seeing a run finish to its result being posted in Slack",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )

    def codegen_call(self, limit_class: str, outcome: str) -> None:
        """Count one Codegen call."""
        self.codegen_calls.labels(limit_class, outcome).inc()

    def slack_call(self, method: str, outcome: str) -> None:
        """Count one Slack call."""
        self.slack_calls.labels(method, outcome).inc()

    def render(self) -> bytes:
        """The exposition text for GET /metrics."""
        return generate_latest(self.registry)
