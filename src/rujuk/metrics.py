"""Prometheus metrics (served by metrics_endpoint.py): of this process, or of every worker of
`rujuk serve --workers N`, in prometheus_client's multiprocess mode (each worker writes its
values to files in PROMETHEUS_MULTIPROC_DIR, a folder `rujuk serve` makes and removes).

The request path pays a dict lookup and two pre-bound children per request; pool figures are
sampled once a second and when scraped, the graphs' lag behind the database when scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rujuk.ids import to_global_id

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client chooses its storage when imported; so does this module.
MULTIPROCESS_DIR = os.environ.get(MULTIPROCESS_VARIABLE)
# Past this many operation names (clients choose them), new ones are counted as OTHER.
MAX_OPERATIONS = 200
OTHER = "(other)"
UNKNOWN = "-"
SAMPLE_SECONDS = 1.0
# A scrape must answer while the database does not (that is when it matters most).
DATABASE_SECONDS = 1.0
SERVER_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "rujuk_graphql_requests",
    "GraphQL requests over HTTP, by operation (its name, else its root fields) and outcome "
    "(ok, client_error, server_error).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "rujuk_graphql_request_duration_seconds",
    "Time from the request's arrival to its answer, by operation.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ERRORS = Counter(
    "rujuk_graphql_errors",
    "GraphQL errors answered over HTTP, by extensions.code.",
    ["code"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "rujuk_rate_limited_requests", "Operations refused with RATE_LIMITED.", registry=REGISTRY
)
EVENTS_APPLIED = Counter(
    "rujuk_graph_events_applied",
    "Graph events applied to the in-memory graphs, by kind (each worker applies every event).",
    ["kind"],
    registry=REGISTRY,
)
GRAPH_VERSION = Gauge(
    "rujuk_graph_version",
    "The version of each program's graph in memory (with several workers, the oldest).",
    ["program"],
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
POOL_SIZE = Gauge(
    "rujuk_db_pool_size",
    "Open connections in the database pools.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "rujuk_db_pool_in_use",
    "Pool connections acquired.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
POOL_WAITING = Gauge(
    "rujuk_db_pool_waiting",
    "Tasks waiting to acquire a pool connection.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
SUBSCRIPTIONS = Gauge(
    "rujuk_subscriptions",
    "Active GraphQL subscriptions.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

_requests: dict[tuple[str, str], tuple[Any, Any]] = {}
_errors: dict[str, Any] = {}
_events: dict[str, Any] = {}
_versions: dict[int, Any] = {}


GC_PAUSES = Histogram(
    "rujuk_gc_pause_seconds",
    "Python garbage collections (the event loop stands still meanwhile), by generation.",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)


# Collections timed and not yet recorded, as (generation, seconds). The collector's callback
# only appends here: prometheus_client's values take a lock (one per process with several
# workers), and a collection can start in this very thread while it holds that lock (a
# metric's first use allocates under it), so a callback that observed a metric waited for
# itself forever. record_collections empties it, from the loop, at each sample and scrape.
_pauses: deque[tuple[int, float]] = deque(maxlen=10_000)


def observe_collections() -> Callable[[], None]:
    """Time every garbage collection of this process for GC_PAUSES (a full one can stop
    the event loop for milliseconds: a cause of latency spikes); the undo."""
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            _pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(callback)
    return lambda: gc.callbacks.remove(callback)


def record_collections() -> None:
    """Record the collections timed since the last call into GC_PAUSES."""
    children = [GC_PAUSES.labels(str(generation)) for generation in range(3)]
    while _pauses:
        generation, seconds = _pauses.popleft()
        children[generation].observe(seconds)


def record_request(operation: str, outcome: str, seconds: float) -> None:
    """Count one answered GraphQL request."""
    children = _requests.get((operation, outcome))
    if children is None:
        children = _bind(operation, outcome)
    children[0].inc()
    children[1].observe(seconds)


def _bind(operation: str, outcome: str) -> tuple[Any, Any]:
    if len(_requests) >= MAX_OPERATIONS and not any(op == operation for op, _ in _requests):
        operation = OTHER
    children = _requests.get((operation, outcome))
    if children is None:
        children = (REQUESTS.labels(operation, outcome), LATENCY.labels(operation))
    _requests[(operation, outcome)] = children
    return children


def record_errors(codes: Iterable[str]) -> None:
    """Count answered GraphQL errors by code."""
    for code in codes:
        child = _errors.get(code)
        if child is None:
            child = _errors[code] = ERRORS.labels(code)
        child.inc()


def outcome(codes: Sequence[str], status: int) -> str:
    """ok, client_error (refused, bad input, not allowed) or server_error."""
    if status >= 500 or any(code in SERVER_CODES for code in codes):
        return "server_error"
    if codes or status >= 400:
        return "client_error"
    return "ok"


def event_applied(program_id: int, version: int, kind: str) -> None:
    """A graph event was applied in this process: the program's graph is at `version`."""
    child = _events.get(kind)
    if child is None:
        child = _events[kind] = EVENTS_APPLIED.labels(kind)
    child.inc()
    graph_version(program_id, version)


def graph_version(program_id: int, version: int) -> None:
    """The program's graph in this process is at `version`."""
    child = _versions.get(program_id)
    if child is None:
        child = _versions[program_id] = GRAPH_VERSION.labels(to_global_id("Program", program_id))
    child.set(version)


def sample_pool(pool: Any) -> None:
    """Record the pool's size, connections in use and waiting acquirers."""
    size: int = pool.get_size()
    POOL_SIZE.set(size)
    POOL_IN_USE.set(size - pool.get_idle_size())
    POOL_WAITING.set(getattr(pool, "waiting", 0))


async def sample_forever(pool: Any) -> None:
    """Sample the pool and record the collections once a second (other workers' figures
    reach a scrape this way)."""
    while True:
        sample_pool(pool)
        record_collections()
        await asyncio.sleep(SAMPLE_SECONDS)


@contextlib.contextmanager
def shared_directory(workers: int) -> Iterator[None]:
    """With several workers, a fresh folder for their metric files, removed afterwards."""
    if workers <= 1:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="rujuk-metrics-") as folder:
        os.environ[MULTIPROCESS_VARIABLE] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_VARIABLE]


def exposition(database: dict[int, int] | None) -> bytes:
    """Every metric in the text format, with each program's lag when the database answered."""
    if MULTIPROCESS_DIR is not None:
        _forget_dead_workers(Path(MULTIPROCESS_DIR))
        source = CollectorRegistry()
        multiprocess.MultiProcessCollector(source, MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
    else:
        source = REGISTRY
    families = list(source.collect())
    output = CollectorRegistry()
    output.register(_Collected(families, database))
    return generate_latest(output)


class _Collected(Collector):
    def __init__(self, families: list[Metric], database: dict[int, int] | None) -> None:
        self.families = families
        self.database = database

    def collect(self) -> Iterable[Metric]:
        yield from self.families
        if self.database is None:
            return
        in_memory = {
            sample.labels["program"]: sample.value
            for family in self.families
            if family.name == "rujuk_graph_version"
            for sample in family.samples
        }
        lag = GaugeMetricFamily(
            "rujuk_graph_version_lag",
            "Events committed to the database that a worker has not applied yet, per program.",
            labels=["program"],
        )
        for program_id, version in sorted(self.database.items()):
            label = to_global_id("Program", program_id)
            lag.add_metric([label], max(0.0, version - in_memory.get(label, 0.0)))
        yield lag


_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def _forget_dead_workers(folder: Path) -> None:
    """Drop the live gauges of workers that died (uvicorn replaces them with new ones)."""
    for path in folder.glob("gauge_live*_*.db"):
        matched = _GAUGE_FILE.fullmatch(path.name)
        if matched is None:
            continue
        pid = int(matched.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass
