"""`python -m bench.mixed_ab BEFORE AFTER`: the mixed load (bench/mixed.lua), or with
`--load purchase` recordPurchase alone (bench/purchase.lua), on one seeded database against
`rujuk serve -w1` from two checkouts in turn, BEFORE, AFTER, BEFORE, ...

BEFORE and AFTER are checkouts' root folders (a `git worktree` or `git archive | tar -x`):
each server runs with PYTHONPATH=ROOT/src, everything else from this one. On a machine
shared with other work the bench's req/s and latencies follow the machine's load, which
moves within minutes; pairs measured back to back on the same data compare the change
(each line: the run's req/s, dashboard latencies, and CPU and commits per request).
Needs wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench import servers
from bench.database import bench_server, fresh_database
from bench.seed import seed
from rujuk import ids
from rujuk.database import drop_database

SHOWN = (
    "rps",
    "read_p50_ms",
    "read_p99_ms",
    "write_p99_ms",
    "server_cpu_ms_per_req",
    "pg_cpu_ms_per_req",
    "requests_per_commit",
)


@dataclass(frozen=True, slots=True)
class Load:
    """The mixed load against one server."""

    port: int
    program: str
    token: str
    externals: list[str]
    viewers: Path
    kind: str = "graphql-mixed"

    def run(self, run: str, seconds: float) -> dict[str, float]:
        """wrk's summary of one window."""
        return servers.load(
            self.kind,
            self.port,
            "/" if self.kind.endswith("-mixed") else "/graphql",
            self.externals,
            run,
            program=self.program,
            token=self.token,
            duration=seconds,
            viewers=self.viewers,
        )


def _run(args: argparse.Namespace) -> None:
    variants = {"before": args.before.resolve(), "after": args.after.resolve()}
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    with bench_server() as server:
        url = asyncio.run(fresh_database(server))
        try:
            seeded = asyncio.run(seed(url, args.customers, args.customers * 3 // 10))
            program = ids.to_global_id("Program", seeded.program_id)
            viewers = logs / "viewers.txt"
            viewers.unlink(missing_ok=True)
            base = {
                "DATABASE_URL": url,
                "RUJUK_LOG_LEVEL": "WARNING",
                "RUJUK_RATE_LIMIT_COST_PER_MINUTE": str(10**9),
            }
            externals = ["x"] * seeded.customers
            for k in range(args.rounds):
                for name, root in variants.items():
                    port = servers.free_port()
                    started = time.perf_counter()
                    process = servers.spawn(
                        [
                            str(servers.BIN / "rujuk"),
                            "serve",
                            "--port",
                            str(port),
                            "--workers",
                            "1",
                        ],
                        {**base, "PYTHONPATH": str(root / "src")},
                        logs / f"{name}-{k}.log",
                    )
                    try:
                        servers.wait_healthy(port, process, started, 300)
                        servers.wait_workers_loaded(url, 1, started, 300)
                        if not viewers.exists():
                            servers.mint_viewers(
                                port, seeded.partner_token, seeded.viewer_ids, viewers
                            )

                        load = Load(
                            port,
                            program,
                            seeded.partner_token,
                            externals,
                            viewers,
                            f"graphql-{args.load}",
                        )
                        load.run(f"{name}{k}-warm", args.warm_up)
                        before = servers.activity(url, port, process.pid)
                        result = load.run(f"{name}{k}", args.duration)
                        after = servers.activity(url, port, process.pid)
                        result.update(servers.activity_between(before, after))
                        result.update(servers.per_request(result))
                        shown = ", ".join(
                            f"{key} {result.get(key, float('nan')):.2f}" for key in SHOWN
                        )
                        print(f"{name} {k}: {shown}", flush=True)
                    finally:
                        servers.stop(process)
        finally:
            asyncio.run(drop_database(server, url))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed_ab")
    parser.add_argument("before", type=Path, help="root of the checkout measured first")
    parser.add_argument("after", type=Path, help="root of the checkout measured second")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument(
        "--load", choices=("mixed", "purchase"), default="mixed", help="what the clients send"
    )
    parser.add_argument("--rounds", type=int, default=3, help="before/after pairs")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--logs", default="/tmp/rujuk-mixed-ab", help="servers' logs")
    _run(parser.parse_args())


if __name__ == "__main__":
    main()
