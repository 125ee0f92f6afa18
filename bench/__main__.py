"""`python -m bench [--customers N]`: seed, measure every figure against a same-run baseline.

Runs on its own embedded PostgreSQL in a temporary directory (or RUJUK_BENCH_DATABASE_URL),
prints a table of figure, baseline, ratio, target and PASS/FAIL, and saves it in
bench/results/. `--only rules` runs the rules on/off part alone (bench/rules.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import inprocess, rules, servers, webhooks
from bench.database import bench_server, fresh_database
from bench.inprocess import Figure, spread
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
        f"{'figure':46} {'value':>12} {'baseline':>12} {'ratio':>7} {'target':>11}  verdict"
        "  runs min/median/max (baseline's)  (baseline)"
    ]
    for f in figures:
        runs = f"{spread(f.runs)} ({spread(f.baseline_runs)})" if f.runs else ""
        lines.append(
            f"{f.name:46} {f.value:10.3f} {f.unit:<2}{f.baseline:10.3f} {f.unit:<2}"
            f"{f.ratio:7.2f} {f.target_text:>11}  {f.verdict:7}  {runs}  ({f.baseline_name})"
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


async def _graph_load(url: str) -> Figure:
    """The graph's load in process alone (the start-up figures' baseline)."""
    pool = await create_pool(url, statement_timeout=30.0)
    try:
        store, load = await inprocess.graph_load_figures(pool)
        del store
        gc.collect()
    finally:
        await pool.close()
    return load


@dataclass(frozen=True, slots=True)
class Loads:
    """How long and how often each load is measured, and what it is sent to."""

    duration: float
    runs: int
    warm_up: float
    externals: list[str]
    program: str
    token: str
    url: str
    logs: Path


Runs = list[dict[str, float]]


def _measure(
    loads: Loads,
    kind: str,
    server: subprocess.Popen[bytes],
    port: int,
    path: str,
    run: str,
    out: list[str],
    **extra: Any,
) -> Runs:
    """A warm-up, then `runs` measured windows of the same load; each run's summary."""
    servers.load(
        kind,
        port,
        path,
        loads.externals,
        f"{run}-warm",
        program=loads.program,
        token=loads.token,
        duration=loads.warm_up,
        **extra,
    )
    results: Runs = []
    for k in range(loads.runs):
        results.append(
            _window(
                loads, kind, server, port, path, f"{run}-{k}", f"{run} run {k + 1}", out, **extra
            )
        )
    return results


def _window(
    loads: Loads,
    kind: str,
    server: subprocess.Popen[bytes],
    port: int,
    path: str,
    run: str,
    label: str,
    out: list[str],
    **extra: Any,
) -> dict[str, float]:
    """One measured window of a load (its orderIds start with `run`), with what PostgreSQL
    checkpointed and the server collected meanwhile (see bench/README.md)."""
    before = servers.activity(loads.url, port, server.pid)
    client = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = servers.load(
        kind,
        port,
        path,
        loads.externals,
        run,
        program=loads.program,
        token=loads.token,
        duration=loads.duration,
        **extra,
    )
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(servers.activity_between(before, servers.activity(loads.url, port, server.pid)))
    result["client_cpu_s"] = (used.ru_utime + used.ru_stime) - (client.ru_utime + client.ru_stime)
    result.update(servers.per_request(result))
    # The machine is shared: its load over the last minute, beside each window's figures.
    result["load_avg_1m"] = os.getloadavg()[0]
    out.append(f"{label}: {_summary(result)}")
    print(out[-1], flush=True)
    return result


def _summary(result: dict[str, float]) -> str:
    return ", ".join(
        f"{key} {value:.0f}" if value >= 100 or value == int(value) else f"{key} {value:.2f}"
        for key, value in result.items()
    )


def _median(runs: Runs, key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _values(runs: Runs, key: str) -> tuple[float, ...]:
    return tuple(r[key] for r in runs)


def _server_env(url: str, seeded: Seeded) -> dict[str, str]:
    """The environment of the servers the bench starts (rujuk and the floor app)."""
    return {
        "DATABASE_URL": url,
        "BENCH_DATABASE_URL": url,
        "BENCH_PROGRAM_ID": str(seeded.program_id),
        "RUJUK_LOG_LEVEL": "WARNING",
        # One partner sends every purchase of the shop: at 2,000/s its cost per minute is over
        # the default bucket. The check still runs on every request; it never refuses here.
        "RUJUK_RATE_LIMIT_COST_PER_MINUTE": str(10**9),
    }


def _http(
    url: str, seeded: Seeded, args: argparse.Namespace, out: list[str], logs: Path
) -> list[Figure]:
    figures: list[Figure] = []
    workers = [int(w) for w in args.workers.split(",")]
    program = ids.to_global_id("Program", seeded.program_id)
    loads = Loads(
        duration=args.duration,
        runs=args.runs,
        warm_up=args.warm_up,
        # Only the count matters to the load generator (externalIds are c00000001...).
        externals=["x"] * seeded.customers,
        program=program,
        token=seeded.partner_token,
        url=url,
        logs=logs,
    )
    env = _server_env(url, seeded)
    if args.only == "rules":
        return _rules(env, loads, seeded, CONDITION, out)
    mixed = shutil.which("wrk") is not None
    if not mixed:
        out.append("no wrk: the mixed load is not measured (apt-get install wrk)")
    viewers = logs / "viewers.txt"
    # The floor, plain Starlette with the same SQL, before rujuk and again after it, and
    # rujuk compared with the better: a floor caught in a slow phase of the database is not
    # the floor (the first minutes after the seed were one, until migration 0004 dropped the
    # foreign-key checks whose plans scanned the ledger's tables; see bench/README.md).
    floors = [_floor(env, loads, "plain", CONDITION, None, out)]
    purchases: dict[int, Runs] = {}
    mixes: dict[int, Runs] = {}
    for count in workers:
        process, port, healthy = _serve(env, url, count, logs / f"rujuk-{count}.log", out)
        try:
            if count == workers[0]:
                figures.append(_leaderboard(port, seeded, program, out))
            purchases[count] = _measure(
                loads, "graphql-purchase", process, port, "/graphql", f"gql{count}", out
            )
            if mixed:
                if not viewers.exists():
                    servers.mint_viewers(port, seeded.partner_token, seeded.viewer_ids, viewers)
                mixes[count] = _measure(
                    loads, "graphql-mixed", process, port, "/", f"mix{count}", out, viewers=viewers
                )
        finally:
            servers.stop(process)
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
    if 1 in workers:
        figures += _rules(env, loads, seeded, loads.warm_up, out)
    floors.append(
        _floor(
            env,
            loads,
            "plain-after",
            loads.warm_up,
            viewers if mixed else None,
            out,
            graphql=1 in workers,
        )
    )
    figures += _purchase_figures(purchases, floors, out)
    if mixed:
        figures += _mixed_figures(mixes, floors, out)
    return figures


def _serve(
    env: dict[str, str], url: str, count: int, log: Path, out: list[str]
) -> tuple[subprocess.Popen[bytes], int, float]:
    """`rujuk serve --workers count` started on a database at rest: the process, its port
    and the seconds from spawn to the first /healthz 200 (every worker loaded after it)."""
    rested = servers.wait_quiet(url, QUIET_LIMIT)
    out.append(f"checkpointed and waited {rested:.1f} s for the machine to be at rest")
    port = servers.free_port()
    started = time.perf_counter()
    process = servers.spawn(
        [str(servers.BIN / "rujuk"), "serve", "--port", str(port), "--workers", str(count)],
        env,
        log,
    )
    try:
        healthy = servers.wait_healthy(port, process, started, 300)
        loaded = servers.wait_workers_loaded(url, count, started, 300)
    except BaseException:
        servers.stop(process)
        raise
    out.append(
        f"rujuk --workers {count}: first /healthz 200 after {healthy:.2f} s, "
        f"every worker loaded after {loaded:.2f} s"
    )
    return process, port, healthy


# Where the rules load's buyers start in bench/purchase.lua's order: past the 20,000 buyers
# of the graphql-purchase load, whose first purchases were made before.
RULES_FIRST_BUYER = 20_000


def _rules(
    env: dict[str, str], loads: Loads, seeded: Seeded, condition: float, out: list[str]
) -> list[Figure]:
    """recordPurchase -w1 with every rule of contract v2 on against the same load with the
    seeded rules (rates only), on one server, switched through updateProgram over HTTP.

    A warm-up of each (`condition` seconds of the rules off on a fresh database), then
    `runs` pairs of windows in the order off-on, on-off, off-on...
    (so the machine's drift hits both alike), each window's buyers after the last one's
    (bench/purchase.lua's graphql-rules). Then what the rules did, read from the ledger, and
    a start with every rule on against one with them off; the seeded rules are put back.
    """
    pid = seeded.program_id
    window = asyncio.run(rules.window_days(loads.url, pid))
    inputs = {"on": rules.rules_on(loads.program, window), "off": rules.rules_off(loads.program)}
    runs: dict[str, Runs] = {"off": [], "on": []}
    versions: dict[str, list[int]] = {"off": [], "on": []}
    process, port, _ = _serve(env, loads.url, 1, loads.logs / "rujuk-rules.log", out)
    state = "off"
    offset = RULES_FIRST_BUYER
    try:

        def switch(mode: str) -> None:
            nonlocal state
            if state != mode:
                versions[mode].append(rules.switch(port, loads.token, inputs[mode]))
                state = mode

        for mode in ("off", "on"):
            switch(mode)
            # The first load on a freshly seeded database runs slower for a while (seen at
            # 1M: 156 purchases/s in the first window against 270/s in the next ones, with
            # three times PostgreSQL's CPU per purchase): the floor's conditioning first.
            duration = condition if mode == "off" else loads.warm_up
            warm = servers.load(
                "graphql-rules",
                port,
                "/graphql",
                loads.externals,
                f"warm-rules-{mode}",
                program=loads.program,
                token=loads.token,
                duration=duration,
                offset=offset,
            )
            offset += int(warm["requests"]) + 2 * 32
        for k in range(loads.runs):
            for mode in ("off", "on") if k % 2 == 0 else ("on", "off"):
                switch(mode)
                result = _window(
                    loads,
                    "graphql-rules",
                    process,
                    port,
                    "/graphql",
                    f"rules-{mode}{k}",
                    f"rules {mode} run {k + 1}",
                    out,
                    offset=offset,
                )
                offset += int(result["requests"]) + 2 * 32
                runs[mode].append(result)
        switch("off")
    finally:
        servers.stop(process)
    out.append(
        f"rules on (versions {versions['on']}): commission window {window} days, purchase limit "
        f"{rules.PURCHASE_LIMIT}, minimum purchase {rules.MIN_PURCHASE}, monthly cap per "
        f"referrer {rules.MONTHLY_CAP} ({rules.TIME_ZONE}), milestones "
        f"{', '.join(f'{q}: {r}' for q, r in rules.MILESTONES)}, flat level amounts "
        f"{ {t: [str(a) for a in amounts] for t, amounts in rules.LEVEL_AMOUNTS.items()} }; "
        f"off (versions {[1, *versions['off']]}): the seeded rates only"
    )
    on = asyncio.run(rules.fired(loads.url, pid, "rules-on", window))
    off = asyncio.run(rules.fired(loads.url, pid, "rules-off", None))
    capped = asyncio.run(rules.at_monthly_cap(loads.url, pid))
    out.append(f"what the rules did, rules on: {on.line()}; {capped:,} referrers at the cap")
    out.append(f"the same load, rules off: {off.line()}")
    print("\n".join(out[-3:]), flush=True)
    # A start with the rules off and one with every rule on, on the same ledger, each with
    # its first purchase (with a cap, the one that reads the cap's usage from the ledger);
    # the seeded rules stay, for whatever runs next. Off first, so that the start with the
    # rules on is not the one right after the write load.
    starts: dict[str, float] = {}
    for k, mode in enumerate(("off", "on")):
        process, port, starts[mode] = _serve(
            env, loads.url, 1, loads.logs / f"rujuk-rules-{mode}.log", out
        )
        try:
            # A buyer at the bottom of a deep chain: commissions for its ancestors.
            buyer = f"c{seeded.deep_ids[k]:08d}"
            first = rules.first_purchase_ms(port, loads.token, loads.program, buyer, f"start-{k}")
            out.append(f"rules {mode}, after a restart: first recordPurchase {first:.1f} ms")
            rules.switch(port, loads.token, inputs["on" if mode == "off" else "off"])
        finally:
            servers.stop(process)
    out.append("rules on/off: req/s target >= 0.9 of the same run's rules off, p99 < 50 ms")
    figures = [
        Figure(
            f"recordPurchase -w1 rules on, {name}",
            _median(runs["on"], key),
            unit,
            f"rules off {name}",
            _median(runs["off"], key),
            target,
            rule,
            _values(runs["on"], key),
            _values(runs["off"], key),
        )
        for key, name, unit, target, rule in (
            ("rps", "rps", "/s", 0.9, "ratio_at_least"),
            ("p99_ms", "p99", "ms", 50.0, "below"),
            ("p50_ms", "p50", "ms", None, "below"),
            # What the code costs, whatever share of the machine the bench gets.
            ("server_cpu_ms_per_req", "CPU/req", "ms", None, "below"),
        )
    ]
    figures.append(
        Figure(
            "rujuk serve -w1 rules on: to /healthz",
            starts["on"],
            "s",
            "a start with the rules off",
            starts["off"],
            10.0,
        )
    )
    return figures


def _leaderboard(port: int, seeded: Seeded, program: str, out: list[str]) -> Figure:
    """The cached leaderboard's median against { __typename }'s (no writes yet: the
    ranking computed once stays current)."""
    first = time.perf_counter()
    servers.graphql_median_ms(port, seeded.partner_token, LEADERBOARD, {"p": program}, 1)
    out.append(f"first leaderboard (ranking computed): {time.perf_counter() - first:.2f} s")
    board = servers.graphql_median_ms(port, seeded.partner_token, LEADERBOARD, {"p": program}, 300)
    trivial = servers.graphql_median_ms(port, seeded.partner_token, TYPENAME, {}, 300)
    return Figure(
        "leaderboard(first: 10), cached, median",
        board,
        "ms",
        "{ __typename } median",
        trivial,
        10.0,
    )


def _better(floors: list[dict[str, Runs]], load: str) -> Runs:
    """The floor's runs of a load, from whichever of its two measurements ran faster."""
    measured = [f[load] for f in floors if load in f]
    return max(measured, key=lambda runs: _median(runs, "rps"))


def _purchase_figures(
    purchases: dict[int, Runs], floors: list[dict[str, Runs]], out: list[str]
) -> list[Figure]:
    plain = _better(floors, "purchase")
    figures: list[Figure] = []
    for count, runs in purchases.items():
        for key, unit, target, rule in (
            ("rps", "/s", 0.5, "ratio_at_least"),
            ("p99_ms", "ms", 50.0, "below"),
            ("p50_ms", "ms", None, "below"),
        ):
            figures.append(
                Figure(
                    f"recordPurchase -w{count}, {key.removesuffix('_ms')}",
                    _median(runs, key),
                    unit,
                    f"plain Starlette {key.removesuffix('_ms')}",
                    _median(plain, key),
                    target,
                    rule,
                    _values(runs, key),
                    _values(plain, key),
                )
            )
    if 1 in purchases and len(purchases) > 1:
        one = purchases[1]
        for count, runs in purchases.items():
            if count != 1:
                figures.append(
                    Figure(
                        f"recordPurchase -w{count} against -w1",
                        _median(runs, "rps"),
                        "/s",
                        "rujuk -w1 req/s",
                        _median(one, "rps"),
                        1.0,
                        "ratio_at_least",
                        _values(runs, "rps"),
                        _values(one, "rps"),
                    )
                )
    graphql = [f for f in floors if "core" in f]
    if graphql:
        # What the fixed stack leaves of the floor before rujuk does any work of its own:
        # the same purchase and SQL behind strawberry's schema, no token, lookup or rules.
        for name, label in (
            ("core", "graphql-core, cached document"),
            ("stock", "strawberry's stock view"),
        ):
            runs = graphql[0][name]
            figures.append(
                Figure(
                    f"floor's purchase on {label}",
                    _median(runs, "rps"),
                    "/s",
                    "plain Starlette req/s",
                    _median(plain, "rps"),
                    None,
                    "ratio_at_least",
                    _values(runs, "rps"),
                    _values(plain, "rps"),
                )
            )
        if 1 in purchases:
            core = graphql[0]["core"]
            figures.append(
                Figure(
                    "recordPurchase -w1 against graphql-core's",
                    _median(purchases[1], "rps"),
                    "/s",
                    "floor's purchase on graphql-core",
                    _median(core, "rps"),
                    None,
                    "ratio_at_least",
                    _values(purchases[1], "rps"),
                    _values(core, "rps"),
                )
            )
    out.append("req/s target: >= 0.5 of the floor's; p99 target: the median run's < 50 ms")
    return figures


def _mixed_figures(
    mixes: dict[int, Runs], floors: list[dict[str, Runs]], out: list[str]
) -> list[Figure]:
    plain = _better(floors, "mixed")
    figures: list[Figure] = []
    for count, runs in mixes.items():
        for key, name, target in (
            ("rps", "req/s", None),
            ("read_p99_ms", "dashboard p99", 20.0),
            ("read_p50_ms", "dashboard p50", None),
            ("write_p99_ms", "recordPurchase p99", None),
        ):
            figures.append(
                Figure(
                    f"mixed 80/20 -w{count}, {name}",
                    _median(runs, key),
                    "/s" if key == "rps" else "ms",
                    f"plain Starlette mix, {name}",
                    _median(plain, key),
                    target,
                    "below",
                    _values(runs, key),
                    _values(plain, key),
                )
            )
    out.append("mixed: 80% dashboards (bench/dashboard.graphql), 20% recordPurchase, 32 clients")
    return figures


# The floor app's GraphQL routes for the same purchase (bench/baseline_app.py): the least a
# GraphQL answer costs in rujuk's stack, and strawberry's stock view.
GRAPHQL_FLOORS = (("core", "/graphql-core"), ("stock", "/graphql"))


def _floor(
    env: dict[str, str],
    loads: Loads,
    run: str,
    condition: float,
    viewers: Path | None,
    out: list[str],
    *,
    graphql: bool = False,
) -> dict[str, Runs]:
    """recordPurchase's SQL and group commit behind plain Starlette, under the same loads:
    the purchases alone, and the mix when `viewers` holds the dashboards' customers; with
    `graphql`, the same purchase behind the app's GraphQL routes too."""
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
        loads.logs / f"{run}.log",
    )
    measured: dict[str, Runs] = {}
    try:
        servers.wait_healthy(port, process, time.perf_counter(), 60)
        # The first load on the fresh database, longer than the others' warm-up.
        servers.load(
            "plain-purchase", port, "/purchase", loads.externals, f"{run}-cond", duration=condition
        )
        measured["purchase"] = _measure(
            loads, "plain-purchase", process, port, "/purchase", run, out
        )
        if viewers is not None:
            measured["mixed"] = _measure(
                loads, "plain-mixed", process, port, "/", f"{run}-mix", out, viewers=viewers
            )
        if graphql:
            for name, path in GRAPHQL_FLOORS:
                measured[name] = _measure(
                    loads, "graphql-purchase", process, port, path, f"{run}-{name}", out
                )
    finally:
        servers.stop(process)
    return measured


_LOAD_SECONDS: list[float] = []


def figures_load_seconds(_out: list[str]) -> float:
    """The in-process GraphStore.load time measured earlier in the run (start-up baseline)."""
    return _LOAD_SECONDS[0] if _LOAD_SECONDS else float("nan")


def main() -> int:
    """Run the whole bench; exit 0 whatever the verdicts (the report says them)."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=None, help="default 30%% of customers")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of each measured load window"
    )
    parser.add_argument("--runs", type=int, default=3, help="measured windows per figure")
    parser.add_argument(
        "--warm-up", type=float, default=WARM_UP, help="seconds of the same load before them"
    )
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to try")
    parser.add_argument(
        "--only",
        choices=("rules", "webhooks"),
        help="rules: only the seed, the graph load in process (start-up's baseline) and "
        "recordPurchase -w1 with every reward rule on against off (bench/rules.py); "
        "webhooks: only the seed and the webhook figures (bench/webhooks.py)",
    )
    args = parser.parse_args()
    purchases = args.purchases if args.purchases is not None else args.customers * 3 // 10
    workers = [1] if args.only == "rules" else [int(w) for w in args.workers.split(",")]
    began = time.perf_counter()
    notes: list[str] = []
    # The servers' logs (and the viewers' tokens) are kept beside the report.
    RESULTS.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix=f"logs-{datetime.now(UTC):%Y%m%dT%H%M%S}-", dir=RESULTS))
    with bench_server() as server:
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
            figures: list[Figure] = []
            if args.only == "rules":
                figures = [asyncio.run(_graph_load(url))]
                _LOAD_SECONDS.append(figures[0].value)
                print(_table(figures), flush=True)
                figures += _http(url, seeded, args, notes, logs)
            elif args.only == "webhooks":
                figures = webhooks.figures(url, seeded, args.duration, logs, notes)
            else:
                figures = asyncio.run(_in_process(url, seeded, notes))
                _LOAD_SECONDS.append(figures[0].value)
                print(_table(figures), flush=True)
                figures += _http(url, seeded, args, notes, logs)
                figures += webhooks.figures(url, seeded, args.duration, logs, notes)
        finally:
            asyncio.run(drop_database(server, url))
    header = (
        f"rujuk bench {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, {args.customers:,} customers, "
        f"Python {platform.python_version()}, {len(workers)} server configs, "
        f"{args.runs} x {args.duration:g} s per figure after {args.warm_up:g} s of warm-up"
    )
    report = "\n".join(
        [
            header,
            "",
            _table(figures),
            "",
            *notes,
            f"bench total: {time.perf_counter() - began:.0f} s",
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
