"""Prometheus metrics, one registry per application (tests run several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "libral_updates_total", "Updates handled, by type", ["type"], registry=self.registry
        )
        self.latency = Histogram(
            "libral_handler_seconds",
            "Time to handle one update, by type",
            ["type"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.errors = Counter(
            "libral_errors_total",
            "Updates whose handling failed, by type",
            ["type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "libral_duplicate_updates_total", "Redelivered updates skipped", registry=self.registry
        )
        self.throttled = Counter(
            "libral_throttled_total",
            "Messages dropped by per-user throttling",
            registry=self.registry,
        )

    def update_counts(self) -> dict[str, int]:
        """Updates handled so far, by type (the dashboard's live traffic counter)."""
        counts: dict[str, int] = {}
        for metric in self.updates.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["type"]] = int(sample.value)
        return counts

    def render(self) -> bytes:
        return generate_latest(self.registry)
