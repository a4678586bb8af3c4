"""A service's metrics registry (prometheus-client): what ``GET /metrics`` exposes.

Each service has its own :class:`Metrics` (its own ``CollectorRegistry``: several services share one
process in the tests). Besides what is counted as it happens (HTTP requests, see
:mod:`kc_runtime.web.metrics`), everything is read at scrape time (:meth:`Metrics.gauge`,
:meth:`Metrics.counter`) from what the service already keeps — its read models, its relay's position,
its running totals — in a worker thread, so a scrape costs a few indexed queries and no event loop time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

log = structlog.get_logger("kc.metrics")

Samples = Iterable[tuple[Sequence[str], float]]


@dataclass(frozen=True)
class _Family:
    name: str
    doc: str
    labels: tuple[str, ...]
    read: Callable[[], Samples]
    kind: str  # gauge | counter


class _ScrapeTime(Collector):
    """The families read when Prometheus scrapes; one failing read loses that family only."""

    def __init__(self, families: list[_Family]) -> None:
        self.families = families

    def describe(self) -> Iterable[Metric]:
        return []  # no describe: the registry must not read the database when a family is added

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            metric: GaugeMetricFamily | CounterMetricFamily
            if family.kind == "counter":
                metric = CounterMetricFamily(family.name, family.doc, labels=family.labels)
            else:
                metric = GaugeMetricFamily(family.name, family.doc, labels=family.labels)
            try:
                for labels, value in family.read():
                    metric.add_metric(list(labels), value)
            except Exception as exc:
                log.warning("a metric could not be read", metric=family.name, error=repr(exc))
                continue
            yield metric


class Metrics:
    """One service's metrics."""

    def __init__(self, *, service: str, instance: str) -> None:
        self.service = service
        self.instance = instance
        self.registry = CollectorRegistry(auto_describe=False)
        self._families: list[_Family] = []
        self.registry.register(_ScrapeTime(self._families))
        self.registry.register(_Info(service, instance))

    def gauge(self, name: str, doc: str, labels: Sequence[str], read: Callable[[], Samples]) -> None:
        """A gauge computed at scrape time by ``read()`` (label values, value) — in a worker thread."""
        self._families.append(_Family(name, doc, tuple(labels), read, "gauge"))

    def counter(self, name: str, doc: str, labels: Sequence[str], read: Callable[[], Samples]) -> None:
        """A counter kept elsewhere (a process's running total), read at scrape time; ``name`` without
        ``_total``."""
        self._families.append(_Family(name, doc, tuple(labels), read, "counter"))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Info(Collector):
    def __init__(self, service: str, instance: str) -> None:
        self.service = service
        self.instance = instance

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("kc_service", "Which service of which instance this is")
        info.add_metric([], {"service": self.service, "kc_instance": self.instance})
        yield info
