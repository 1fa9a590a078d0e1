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
        pending = self._store.count_pending()
        for kind in ("create", "resume"):
            queue.add_metric([kind], pending.get(kind, 0))
        yield queue
        jobs = GaugeMetricFamily(
            "codegen_slack_jobs",
            "Background jobs by kind and status (dead: given up)",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(self._store.count_jobs().items()):
            jobs.add_metric([kind, status], count)
        yield jobs


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
        self.dead_jobs = Counter(
            "codegen_slack_dead_jobs",
            "Jobs that ended dead (given up; their person was told) since the start, by kind",
            ["kind"],
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

    def job_dead(self, kind: str) -> None:
        """Count one job that ended dead."""
        self.dead_jobs.labels(kind).inc()

    def render(self) -> bytes:
        """The exposition text for GET /metrics."""
        return generate_latest(self.registry)
