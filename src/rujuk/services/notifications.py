"""Live streams of a program's new rewards and referrals, fed by the graph event log.

Every worker applies every program's events (see GraphStore), so a subscriber on any
worker sees writes made through any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from rujuk import metrics
from rujuk.access import Principal
from rujuk.db import customers as customer_queries
from rujuk.db import purchases as purchase_queries
from rujuk.db import referrals as referral_queries
from rujuk.errors import RequestError
from rujuk.graph.events import CustomerRegistered, GraphEvent, PurchaseRecorded
from rujuk.records import Referral, Reward
from rujuk.services.runtime import Runtime

logger = logging.getLogger(__name__)

# A subscriber that falls this far behind loses events rather than growing memory.
MAX_BACKLOG = 1000


E = TypeVar("E", CustomerRegistered, PurchaseRecorded)


async def _events(runtime: Runtime, program_id: int, kind: type[E]) -> AsyncIterator[E]:
    queue: asyncio.Queue[E] = asyncio.Queue(maxsize=MAX_BACKLOG)

    def on_event(_version: int, event: GraphEvent) -> None:
        if not isinstance(event, kind):
            return
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.warning(
                "a subscriber of program %s is too slow; an event was dropped", program_id
            )

    unsubscribe = runtime.graphs.subscribe(program_id, on_event)
    metrics.SUBSCRIPTIONS.inc()
    try:
        while True:
            yield await queue.get()
    finally:
        metrics.SUBSCRIPTIONS.dec()
        unsubscribe()


async def _check_program(runtime: Runtime, program_id: int | None) -> int:
    if program_id is None or await runtime.graphs.program(program_id) is None:
        raise RequestError("no such program", "NOT_FOUND")
    return program_id


async def rewards_earned(
    runtime: Runtime, principal: Principal, program_id: int | None, customer_id: int | None
) -> AsyncIterator[Reward]:
    """Each new reward of the program (ADMIN/PARTNER), or of one customer (also that customer)."""
    principal.require_authenticated()
    program = await _check_program(runtime, program_id)
    if customer_id is None:
        principal.require_manager(program)
    else:
        async with runtime.pool.acquire() as conn:
            customer = await customer_queries.get_customer(conn, customer_id)
        if customer is None or customer.program_id != program:
            raise RequestError("no such customer in this program", "NOT_FOUND")
        principal.require_details(program, customer_id)
    async for recorded in _events(runtime, program, PurchaseRecorded):
        for reward in await purchase_queries.purchase_rewards(runtime.pool, [recorded.purchase_id]):
            if customer_id is None or reward.beneficiary_id == customer_id:
                yield reward


async def referrals_created(
    runtime: Runtime, principal: Principal, program_id: int | None
) -> AsyncIterator[Referral]:
    """Each new referral link of the program (ADMIN/PARTNER)."""
    principal.require_authenticated()
    program = await _check_program(runtime, program_id)
    principal.require_manager(program)
    async for registered in _events(runtime, program, CustomerRegistered):
        if registered.referrer_id is None:
            continue
        async with runtime.pool.acquire() as conn:
            found = await referral_queries.referrals_of_referees(conn, [registered.id])
        yield found[0]
