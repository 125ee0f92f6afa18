"""A small closed-loop HTTP/1.1 load generator, run in its own process.

Each of `concurrency` keep-alive connections sends a request, reads the whole response and
sends the next, for `duration` seconds or `limit` requests in all. Raw asyncio streams keep
the client's own CPU cost low: it shares the 2 cores with the server and PostgreSQL.
Prints one JSON object: requests, errors, seconds, rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable

import numpy as np


def _bodies(
    kind: str, program: str, externals: list[str], run: str, customers: int, offset: int
) -> Callable[[int], bytes]:
    if kind in ("graphql-purchase", "graphql-rules"):
        query = (
            "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) "
            "{ purchase { id } rewards { amount } userErrors { code } } }"
        )

        def graphql(k: int) -> bytes:
            buyer, amount = externals[k % len(externals)], 150_000
            if kind == "graphql-rules":  # as bench/purchase.lua: a fresh buyer each time
                buyer, amount = f"c{(offset + k) * 7919 % customers + 1:08d}", 25_000 * (1 + k % 8)
            variables = {
                "i": {
                    "programId": program,
                    "customerExternalId": buyer,
                    "orderId": f"{run}-{k}",
                    "amount": str(amount),
                }
            }
            return json.dumps({"query": query, "variables": variables}).encode()

        return graphql
    if kind == "plain-purchase":

        def plain(k: int) -> bytes:
            customer = int(externals[k % len(externals)].lstrip("c"))
            body = {"customer_id": customer, "order_id": f"{run}-{k}", "amount": "150000"}
            return json.dumps(body).encode()

        return plain
    raise ValueError(kind)


async def _run(args: argparse.Namespace) -> dict[str, float]:
    # The seeded externalIds are c00000001..cNNNNNNNN: spread the buyers over all of them.
    externals = [f"c{(k * 7919) % args.customers + 1:08d}" for k in range(20_000)]
    body_of = _bodies(args.kind, args.program, externals, args.run, args.customers, args.offset)
    head = f"POST {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + (
        f"Authorization: Bearer {args.token}\r\n" if args.token else ""
    )
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + args.duration

    async def client() -> None:
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        while time.perf_counter() < deadline and counter < args.limit:
            k = counter
            counter += 1
            body = body_of(k)
            request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            # GraphQL answers 200 with "errors" or userErrors when it refuses.
            if b" 200 " not in status_line or b'"errors"' in payload or b'"code"' in payload:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    seconds = time.perf_counter() - started
    array = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": float(np.percentile(array, 50)) if array.size else 0.0,
        "p99_ms": float(np.percentile(array, 99)) if array.size else 0.0,
    }


def main() -> None:
    """Parse the arguments, run the load, print the JSON summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--program", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--offset", type=int, default=0, help="graphql-rules: first buyer")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=200_000)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the stdlib loop is fine, only slower
        pass
    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
