"""`python -m bench.post_cost --port P`: what one webhook POST costs rujuk's own client.

rujuk's WebhookClient (aiohttp) sends signed Standard Webhooks messages of a reward event's
size to the bench's receiver on 127.0.0.1:P, PER_ENDPOINT at a time as the dispatcher does,
for --seconds; prints one JSON line: the POSTs sent and this process's CPU microseconds per
POST (the client's work alone: no claim, no record, no event written). bench/webhooks.py
sets it beside the CPU a delivery costs the server, and beside the budget per delivery that
the throughput target leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from rujuk import ids
from rujuk.services.webhook_client import WebhookClient
from rujuk.services.webhook_dispatcher import PER_ENDPOINT, USER_AGENT, signature
from rujuk.services.webhook_urls import resolve

# A reward.earned message as the outbox writes it (bench/receiver.py reads its timestamp).
BODY = json.dumps(
    {
        "type": "reward.earned",
        "timestamp": "2026-12-03T00:00:00+00:00",
        "data": {
            "id": ids.to_global_id("Reward", 123456),
            "program": ids.to_global_id("Program", 1),
            "customer": ids.to_global_id("Customer", 654321),
            "purchase": ids.to_global_id("Purchase", 98765),
            "kind": "REFERRER_COMMISSION",
            "level": 1,
            "amount": "7500",
            "status": "PENDING",
        },
    }
)
SECRET = (b"bench-secret-0123456789abcdef",)


async def measure(port: int, seconds: float) -> dict[str, float]:
    """POSTs sent in `seconds` (after one second of warm-up) and CPU microseconds each."""
    client = WebhookClient(USER_AGENT, 10.0)
    target = await resolve(f"http://127.0.0.1:{port}/cost", allow_private=True)
    sent = [0]
    stop = [time.monotonic() + 1.0]

    async def sender(k: int) -> None:
        while time.monotonic() < stop[0]:
            message_id = ids.to_global_id("WebhookEvent", k * 10**9 + sent[0])
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature(SECRET, message_id, timestamp, BODY),
            }
            status = await client.post(target, headers, BODY.encode())
            if status != 200:
                raise RuntimeError(f"the receiver answered {status}")
            sent[0] += 1

    try:
        await asyncio.gather(*(sender(k) for k in range(PER_ENDPOINT)))  # warm-up
        sent[0] = 0
        started = time.process_time()
        stop[0] = time.monotonic() + seconds
        await asyncio.gather(*(sender(k) for k in range(PER_ENDPOINT)))
        used = time.process_time() - started
    finally:
        await client.close()
    return {"posts": float(sent[0]), "cpu_us_per_post": used / max(sent[0], 1) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.post_cost")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()  # as uvicorn runs rujuk
    except ImportError:
        pass
    print(json.dumps(asyncio.run(measure(args.port, args.seconds))))


if __name__ == "__main__":
    main()
