"""`python -m bench [--customers N]`: seed, measure every figure against a same-run baseline.

Runs on its own embedded PostgreSQL in a temporary directory (or RUJUK_BENCH_DATABASE_URL),
prints a table of figure, baseline, ratio, target and PASS/FAIL, and saves it in
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import inprocess, servers
from bench.database import bench_server, fresh_database
from bench.inprocess import Figure
from bench.seed import Seeded, seed
from rujuk import ids
from rujuk.database import drop_database
from rujuk.db.pool import create_pool

LEADERBOARD = """query($p: ID!) { leaderboard(programId: $p, metric: PAGERANK, first: 10)
  { rank score customer { externalId } } }"""
TYPENAME = "{ __typename }"
RESULTS = Path(__file__).resolve().parent / "results"
# Seconds of the same load before each measured one, not counted: connections opened,
# statements prepared, PostgreSQL's buffers warm and past the burst of full-page writes
# that follows the seed's checkpoint, as in a server that has been up for a while (seen
# here at 1M: right after seeding, 917 purchases/s and p99 106 ms after a 5 s warm-up; on
# the same database a minute later, 1,170/s and 45-50 ms).
WARM_UP = 15.0
# The first floor's warm-up: the first load on the freshly seeded database.
CONDITION = 45.0
# Longest wait for the machine to be at rest before a start-up is measured.
QUIET_LIMIT = 60.0


def _table(figures: list[Figure]) -> str:
    lines = [
        f"{'figure':38} {'value':>12} {'baseline':>12} {'ratio':>8} {'target':>10}  verdict"
        "  (baseline)"
    ]
    for f in figures:
        target = "-" if f.target is None else f"< {f.target:g} {f.unit}"
        lines.append(
            f"{f.name:38} {f.value:10.3f} {f.unit:<2}{f.baseline:10.3f} {f.unit:<2}"
            f"{f.ratio:8.2f} {target:>10}  {f.verdict:7}  ({f.baseline_name})"
        )
    return "\n".join(lines)


async def _in_process(url: str, seeded: Seeded, out: list[str]) -> list[Figure]:
    # Whole-table statements at a million customers: the bound rujuk's pool had before
    # its statement timeout became a setting (10 s by default).
    pool = await create_pool(url, statement_timeout=30.0)
    try:
        store, load = await inprocess.graph_load_figures(pool)
        graph = store.graph(seeded.program_id)
        walk = inprocess.ancestor_figure(graph, seeded.deep_ids)
        ranking, overlap = inprocess.ranking_figures(graph)
        out.append(overlap)
        del store, graph
        gc.collect()
        stats = await inprocess.stats_figure(pool, seeded.program_id)
    finally:
        await pool.close()
    return [load, walk, ranking, stats]


def _http(
    url: str, seeded: Seeded, duration: float, workers: list[int], out: list[str], logs: Path
) -> list[Figure]:
    figures: list[Figure] = []
    # Only the count matters to the load generator (externalIds are c00000001...).
    externals = ["x"] * seeded.customers
    program = ids.to_global_id("Program", seeded.program_id)
    env = {
        "DATABASE_URL": url,
        "BENCH_DATABASE_URL": url,
        "BENCH_PROGRAM_ID": str(seeded.program_id),
        "RUJUK_LOG_LEVEL": "WARNING",
    }
    # The floor, plain Starlette with the same SQL, before rujuk and again after it, and
    # rujuk compared with the better: a floor caught in a slow phase of the database is not
    # the floor (the first minutes after the seed were one, until migration 0004 dropped the
    # foreign-key checks whose plans scanned the ledger's tables; see bench/README.md).
    before = _floor(env, externals, logs, "plain", CONDITION, duration)
    out.append(f"plain Starlette purchase, before rujuk: {before}")
    results: dict[int, dict[str, float]] = {}
    for count in workers:
        rested = servers.wait_quiet(url, QUIET_LIMIT)
        out.append(f"checkpointed and waited {rested:.1f} s for the machine to be at rest")
        port = servers.free_port()
        started = time.perf_counter()
        process = servers.spawn(
            [str(servers.BIN / "rujuk"), "serve", "--port", str(port), "--workers", str(count)],
            env,
            logs / f"rujuk-{count}.log",
        )
        try:
            healthy = servers.wait_healthy(port, process, started, 300)
            loaded = servers.wait_workers_loaded(url, count, started, 300)
            out.append(
                f"rujuk --workers {count}: first /healthz 200 after {healthy:.2f} s, "
                f"every worker loaded after {loaded:.2f} s"
            )
            if count == workers[0]:
                # Leaderboard first (no writes yet: the cached ranking stays current).
                first = time.perf_counter()
                servers.graphql_median_ms(
                    port, seeded.partner_token, LEADERBOARD, {"p": program}, 1
                )
                out.append(
                    f"first leaderboard (ranking computed): {time.perf_counter() - first:.2f} s"
                )
                board = servers.graphql_median_ms(
                    port, seeded.partner_token, LEADERBOARD, {"p": program}, 300
                )
                trivial = servers.graphql_median_ms(port, seeded.partner_token, TYPENAME, {}, 300)
                figures.append(
                    Figure(
                        "leaderboard(first: 10), cached, median",
                        board,
                        "ms",
                        "{ __typename } median",
                        trivial,
                        10.0,
                    )
                )
            for run, seconds in ((f"warm{count}", WARM_UP), (f"gql{count}", duration)):
                result = servers.load(
                    "graphql-purchase",
                    port,
                    "/graphql",
                    externals,
                    run,
                    program=program,
                    token=seeded.partner_token,
                    duration=seconds,
                )
        finally:
            servers.stop(process)
        out.append(f"rujuk --workers {count} recordPurchase: {result}")
        results[count] = result
        figures.append(
            Figure(
                f"rujuk serve -w{count}: start to /healthz 200",
                healthy,
                "s",
                "GraphStore.load in process",
                figures_load_seconds(out),
                10.0,
            )
        )
    after = _floor(env, externals, logs, "plain-after", WARM_UP, duration)
    out.append(f"plain Starlette purchase, after rujuk: {after}")
    plain = max(before, after, key=lambda r: r["rps"])
    for count, result in results.items():
        figures.append(
            Figure(
                f"recordPurchase -w{count}, req/s (target >=)",
                result["rps"],
                "/s",
                "plain Starlette req/s",
                plain["rps"],
                None,
            )
        )
        figures.append(
            Figure(
                f"recordPurchase -w{count}, p99",
                result["p99_ms"],
                "ms",
                "plain Starlette p99",
                plain["p99_ms"],
                50.0,
            )
        )
        figures.append(
            Figure(
                f"recordPurchase -w{count}, p50",
                result["p50_ms"],
                "ms",
                "plain Starlette p50",
                plain["p50_ms"],
                None,
            )
        )
    return figures


def _floor(
    env: dict[str, str], externals: list[str], logs: Path, run: str, warm_up: float, duration: float
) -> dict[str, float]:
    """recordPurchase's SQL and group commit behind plain Starlette, under the same load."""
    port = servers.free_port()
    process = servers.spawn(
        [
            str(servers.BIN / "uvicorn"),
            "bench.baseline_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env,
        logs / f"{run}.log",
    )
    try:
        servers.wait_healthy(port, process, time.perf_counter(), 60)
        servers.load(
            "plain-purchase", port, "/purchase", externals, f"{run}-warm", duration=warm_up
        )
        return servers.load("plain-purchase", port, "/purchase", externals, run, duration=duration)
    finally:
        servers.stop(process)


_LOAD_SECONDS: list[float] = []


def figures_load_seconds(_out: list[str]) -> float:
    """The in-process GraphStore.load time measured earlier in the run (start-up baseline)."""
    return _LOAD_SECONDS[0] if _LOAD_SECONDS else float("nan")


def main() -> int:
    """Run the whole bench; exit 0 whatever the verdicts (the report says them)."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=None, help="default 30%% of customers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load test")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to try")
    args = parser.parse_args()
    purchases = args.purchases if args.purchases is not None else args.customers * 3 // 10
    workers = [int(w) for w in args.workers.split(",")]
    notes: list[str] = []
    with bench_server() as server, tempfile.TemporaryDirectory(prefix="rujuk-bench-logs-") as tmp:
        url = asyncio.run(fresh_database(server))
        try:
            seeded = asyncio.run(seed(url, args.customers, purchases))
            notes.append(
                f"seeded {seeded.customers:,} customers, {seeded.links:,} links (max depth "
                f"{seeded.max_depth}), {seeded.purchases:,} purchases in {seeded.seconds:.1f} s "
                f"(generate {seeded.generate_seconds:.1f} s, COPY {seeded.copy_seconds:.1f} s, "
                f"keys+indexes {seeded.constraint_seconds:.1f} s)"
            )
            print(notes[-1], flush=True)
            figures = asyncio.run(_in_process(url, seeded, notes))
            _LOAD_SECONDS.append(figures[0].value)
            print(_table(figures), flush=True)
            figures += _http(url, seeded, args.duration, workers, notes, Path(tmp))
        finally:
            asyncio.run(drop_database(server, url))
    header = (
        f"rujuk bench {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, {args.customers:,} customers, "
        f"Python {platform.python_version()}, {len(workers)} server configs"
    )
    report = "\n".join(
        [
            header,
            "",
            _table(figures),
            "",
            *notes,
            "req/s target: >= 1000 (see recordPurchase req/s rows)",
        ]
    )
    print("\n" + report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}-{args.customers}.txt").write_text(
        report + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
