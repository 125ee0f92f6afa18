"""An open-loop recordPurchase load at a fixed rate, run in its own process.

Request k is due at start + k / rate whatever became of the ones before it (a closed loop
would slow down with the server and hide its queueing); it goes out on an idle keep-alive
connection, of at most `connections`. Latency counts from when a request was due, so a
request that waited for a connection counts its wait. Prints one JSON object: requests,
errors, seconds, rps, p50_ms, p99_ms, started and ended (seconds since the epoch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np

QUERY = (
    "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) "
    "{ purchase { id } rewards { amount } userErrors { code } } }"
)


async def _run(args: argparse.Namespace) -> dict[str, float]:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {args.token}\r\n"
    )
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", args.port))
    latencies: list[float] = []
    errors = 0

    async def send(k: int, due: float) -> None:
        nonlocal errors
        customer = (k % 20_000) * 7919 % args.customers + 1
        variables = {
            "i": {
                "programId": args.program,
                "customerExternalId": f"c{customer:08d}",
                "orderId": f"{args.run}-{k}",
                "amount": "150000",
            }
        }
        body = json.dumps({"query": QUERY, "variables": variables}).encode()
        reader, writer = await idle.get()
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await reader.readexactly(length)
        idle.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - due)
        if b" 200 " not in status_line or b'"errors"' in payload or b'"code"' in payload:
            errors += 1

    count = int(args.rate * args.duration)
    tasks = []
    wall = time.time()
    start = time.perf_counter()
    for k in range(count):
        due = start + k / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(k, due)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    array = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": float(np.percentile(array, 50)),
        "p99_ms": float(np.percentile(array, 99)),
        "started": wall,
        "ended": wall + seconds,
    }


def main() -> None:
    """Parse the arguments, run the load, print the JSON summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the stdlib loop is fine, only slower
        pass
    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
