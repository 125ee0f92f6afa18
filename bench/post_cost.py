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
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rujuk import ids
from rujuk.records import Reward
from rujuk.services import webhook_events
from rujuk.services.webhook_client import WebhookClient
from rujuk.services.webhook_dispatcher import PER_ENDPOINT, USER_AGENT, signed_headers
from rujuk.services.webhook_events import REWARD_EARNED, reward_event
from rujuk.services.webhook_urls import resolve
from rujuk.vocabulary import RewardKind, RewardStatus

# A reward.earned message as the outbox writes it (bench/receiver.py reads its timestamp).
_NOW = datetime.now(UTC)
BODY = webhook_events.body(
    REWARD_EARNED,
    reward_event(
        REWARD_EARNED,
        Reward(
            id=123456,
            program_id=1,
            purchase_id=98765,
            beneficiary_id=654321,
            kind=RewardKind.REFERRER_COMMISSION,
            level=1,
            rate=Decimal("0.05"),
            tier="Perunggu",
            first_amount=Decimal(7500),
            amount=Decimal(7500),
            status=RewardStatus.PENDING,
            created_at=_NOW,
            available_at=_NOW + timedelta(days=14),
            path=(654321,),
        ),
    ).data,
    _NOW,
)
SECRET = (b"bench-secret-0123456789abcdef",)


async def measure(port: int, seconds: float) -> dict[str, float]:
    """POSTs sent in `seconds` (after one second of warm-up) and CPU microseconds each."""
    client = WebhookClient(USER_AGENT, 10.0)
    target = await resolve(f"http://127.0.0.1:{port}/cost", allow_private=True)
    sent = 0

    async def sender(k: int, until: float) -> None:
        nonlocal sent
        while time.monotonic() < until:
            message_id = ids.to_global_id("WebhookEvent", k * 10**9 + sent)
            headers = signed_headers(SECRET, message_id, int(time.time()), BODY)
            status = await client.post(target, headers, BODY.encode())
            if status != 200:
                raise RuntimeError(f"the receiver answered {status}")
            sent += 1

    async def send_for(seconds: float) -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(sender(k, until) for k in range(PER_ENDPOINT)))

    try:
        await send_for(1.0)  # warm-up: connections opened
        sent = 0
        started = time.process_time()
        await send_for(seconds)
        used = time.process_time() - started
    finally:
        await client.close()
    return {"posts": float(sent), "cpu_us_per_post": used / max(sent, 1) * 1e6}


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
