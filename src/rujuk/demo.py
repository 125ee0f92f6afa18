"""The demo program "Demo Toko": a realistic Indonesian referral network to explore at once."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rujuk import ids
from rujuk.access import Principal, Role
from rujuk.records import TierRule
from rujuk.services import customers, programs, purchases, registration
from rujuk.services.runtime import Runtime
from rujuk.vocabulary import Channel

logger = logging.getLogger(__name__)

DEMO_NAME = "Demo Toko"
DEMO_CUSTOMERS = 2000
# Seconds between progress lines: seeding the 2,000 customers of `make serve` takes 20-30 s.
REPORT_EVERY = 5.0
FIRST_NAMES = (
    "Andi Budi Citra Dewi Eka Fajar Gita Hadi Indah Joko Kartika Lestari Made Nur Putu  "
    "Rina Sari Teguh Utami Wahyu Yogi Zahra Agus Bayu Dian Fitri Gilang Hendra Intan  "
    "Kurnia Lina Maya Nanda Oki Pratiwi Rizky Siti Tono Wulan Yusuf Ayu Bambang Cahya  "
    "Dimas Endah Ratna"
).split()
FAMILY_NAMES = (
    "Santoso Wijaya Saputra Hidayat Kusuma Pratama Nugroho Siregar Simanjuntak Harahap  "
    "Lubis Wibowo Setiawan Gunawan Halim Tanjung Nasution Permana Suryadi Rahman Putri  "
    "Sihombing"
).split()
CHANNEL_WEIGHTS = {
    "WHATSAPP": 34,
    "INSTAGRAM": 22,
    "TIKTOK": 18,
    "FACEBOOK": 10,
    "INFLUENCER": 6,
    "EMAIL": 4,
    "DIRECT": 4,
    "OTHER": 2,
}
DEMO_TIERS = (
    TierRule("Perunggu", 0, Decimal(0), (Decimal("0.05"), Decimal("0.02"))),
    TierRule("Perak", 5, Decimal(5_000_000), (Decimal("0.07"), Decimal("0.03"), Decimal("0.01"))),
    TierRule("Emas", 20, Decimal(50_000_000), (Decimal("0.10"), Decimal("0.04"), Decimal("0.02"))),
)


async def seed_demo(
    runtime: Runtime,
    size: int = DEMO_CUSTOMERS,
    seed: int = 2026,
    report_every: float = REPORT_EVERY,
) -> str:
    """Create "Demo Toko" with `size` customers; return the program's ID. Logs its progress
    at the start, every `report_every` seconds and at the end."""
    rng = random.Random(seed)
    admin = Principal(Role.ADMIN)
    program = await programs.create_program(
        runtime,
        admin,
        programs.ProgramDraft(
            name=DEMO_NAME,
            currency="IDR",
            tiers=DEMO_TIERS,
            max_payout_rate=Decimal("0.20"),
            referee_reward=Decimal(25_000),
            hold_days=14,
            compression=False,
        ),
    )
    start = datetime.now(UTC) - timedelta(days=180)
    step = timedelta(days=179) / size
    # Preferential attachment: customers who already brought people in bring more.
    weights: list[int] = []
    codes: list[str] = []
    channels = list(CHANNEL_WEIGHTS)
    _report(0, size)
    reported = time.monotonic()
    for n in range(size):
        if n and time.monotonic() - reported >= report_every:
            _report(n, size)
            reported = time.monotonic()
        first, family = rng.choice(FIRST_NAMES), rng.choice(FAMILY_NAMES)
        referred = n >= 12 and rng.random() < 0.9
        code: str | None = None
        if referred:
            code = codes[rng.choices(range(len(codes)), weights=weights)[0]]
        joined = await registration.register_customer(
            runtime,
            admin,
            registration.SignUp(
                program_id=program.id,
                external_id=f"demo-{n + 1:05d}",
                display_name=f"{first} {family}",
                email=f"{first.lower()}.{family.lower()}{n + 1}@contoh.co.id",
                phone=f"08{rng.randrange(10**9, 10**10)}",
                referral_code=code,
                channel=rng.choices(channels, weights=list(CHANNEL_WEIGHTS.values()))[0]
                if referred
                else Channel.DIRECT,
                device_id=f"demo-device-{n + 1}",
                joined_at=start + step * n,
            ),
        )
        own = await customers.load_codes(runtime.pool, [joined.customer.id])
        codes.append(own[0][0].code)
        weights.append(1)
        if joined.referral is not None:
            weights[codes.index(joined.referral.code)] += 3
        for order in range(_purchases_of(rng)):
            bought_at = joined.customer.joined_at + timedelta(days=rng.uniform(0.5, 20))
            await purchases.record_purchase(
                runtime,
                admin,
                purchases.PurchaseRequest(
                    program_id=program.id,
                    customer_external_id=joined.customer.external_id,
                    order_id=f"demo-order-{n + 1:05d}-{order + 1}",
                    amount=Decimal(rng.randrange(50, 2500) * 1000),
                    occurred_at=min(bought_at, datetime.now(UTC)),
                ),
            )
    # Rewards past their hold are paid out, as a running program's would be.
    await purchases.settle_rewards(runtime, admin, program.id, None)
    _report(size, size)
    return ids.to_global_id("Program", program.id)


def _report(done: int, size: int) -> None:
    logger.info("seeding %s: %d of %d customers (%d%%)", DEMO_NAME, done, size, done * 100 // size)


def _purchases_of(rng: random.Random) -> int:
    """Most customers buy once or twice; a third never do."""
    return rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]


@dataclass(frozen=True, slots=True)
class Showcase:
    """What the console's example tabs open on: a program and two of its customers."""

    program_id: str | None
    influencer_external_id: str | None
    deep_external_id: str | None


SHOWCASE_DEPTH = 3
SHOWCASE_EDGES = 100


def showcase(runtime: Runtime) -> Showcase:
    """The demo program (or the oldest one), a customer whose three-level downline fits one
    page, and one of that customer's deepest descendants for the upline tab.
    """
    programs = sorted(runtime.graphs.programs.values(), key=lambda p: p.id)
    program = next((p for p in programs if p.name == DEMO_NAME), programs[0] if programs else None)
    if program is None:
        return Showcase(None, None, None)
    graph = runtime.graphs.graph(program.id)
    best: tuple[int, int] | None = None
    for member in graph.members.values():
        if member.network_size == 0 or (best is not None and member.network_size <= best[0]):
            continue
        below = graph.downline(member.id, SHOWCASE_DEPTH)
        if len(below) <= SHOWCASE_EDGES and below and below[-1].depth == SHOWCASE_DEPTH:
            best = (member.network_size, member.id)
    if best is None:
        return Showcase(ids.to_global_id("Program", program.id), None, None)
    influencer = graph.members[best[1]]
    deepest = graph.downline(influencer.id, SHOWCASE_DEPTH)[-1].customer_id
    return Showcase(
        ids.to_global_id("Program", program.id),
        influencer.external_id,
        graph.members[deepest].external_id,
    )
