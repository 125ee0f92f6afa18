"""An independent brute-force model of rewards.md, and the scenarios hypothesis draws for it.

`Model` keeps only the raw facts (links, purchases, rewards) and recomputes every figure from
scratch by plain traversal. Two tests hold the engine to it: tests/test_engine_model.py through
GraphQL over HTTP against PostgreSQL, tests/test_rules_model.py on the pure rules in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import strategies as st

BASE = datetime(2026, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)
# Hypothesis favours the first choice: a plain rate, not 0.
RATES = ["0.1", "0.05", "0.2", "0.025", "0.333", "0.15", "0.01", "0", "0.5", "1"]
CAPS = ["0.3", "0.1", "0.2", "0.05", "0.5", "1"]
REVENUE_STEPS = {"IDR": [0, 1000, 20000, 200000], "USD": [0, 10, 200, 2000]}
WELCOMES = {"IDR": ["0", "500", "5000"], "USD": ["0", "0.5", "5"]}
COMMISSION = "REFERRER_COMMISSION"
WELCOME = "REFEREE_WELCOME"


# --- The model -----------------------------------------------------------------------


def unit(currency: str) -> Decimal:
    return Decimal(1) if currency == "IDR" else Decimal("0.01")


def round_down(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(unit(currency), rounding=ROUND_DOWN)


@dataclass
class MCustomer:
    ext: str
    referrer: str | None
    status: str | None  # the link's status; None for a root
    erased: bool = False


@dataclass
class MReward:
    beneficiary: str
    order: str
    kind: str
    level: int
    rate: Decimal | None
    tier: str | None
    first: Decimal
    amount: Decimal
    status: str
    available_at: datetime
    path: list[str]  # referees whose links lie between purchaser and beneficiary

    def key(self) -> tuple[Any, ...]:
        return (self.beneficiary, self.order, self.kind, self.level)


@dataclass
class MPurchase:
    order: str
    customer: str
    amount: Decimal
    refunded: Decimal = ZERO
    rewards: list[MReward] = field(default_factory=list)


@dataclass
class Tier:
    name: str
    min_qualified: int
    min_revenue: Decimal
    rates: list[Decimal]


@dataclass
class Model:
    """rewards.md from "Per-customer figures" to "Settling, review, erasure", by brute force."""

    currency: str
    tiers: list[Tier]
    max_payout: Decimal
    welcome: Decimal
    hold_days: int
    compression: bool
    customers: dict[str, MCustomer] = field(default_factory=dict)
    purchases: dict[str, MPurchase] = field(default_factory=dict)

    # The tree and the figures, recomputed from scratch every time.

    def parent(self, ext: str) -> str | None:
        """The effective referrer: none above a REJECTED link."""
        c = self.customers[ext]
        return c.referrer if c.status != "REJECTED" else None

    def spend(self, ext: str) -> Decimal:
        return sum(
            (p.amount - p.refunded for p in self.purchases.values() if p.customer == ext), ZERO
        )

    def qualified(self, ext: str) -> bool:
        return self.customers[ext].status == "ACTIVE" and self.spend(ext) > 0

    def children(self, ext: str) -> list[str]:
        return [c for c in self.customers if self.parent(c) == ext]

    def descendants(self, ext: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        level, distance = [ext], 0
        while level:
            distance += 1
            level = [c for p in level for c in self.children(p)]
            found += [(c, distance) for c in level]
        return found

    def stats(self, ext: str) -> dict[str, Any]:
        below = self.descendants(ext)
        depth, up = 0, self.customers[ext].referrer
        while up is not None:
            depth, up = depth + 1, self.customers[up].referrer
        return {
            "directReferrals": sum(
                1 for c in self.customers.values() if c.referrer == ext and c.status != "REJECTED"
            ),
            "qualifiedReferrals": sum(1 for c in self.children(ext) if self.qualified(c)),
            "networkSize": len(below),
            "networkRevenue": sum((self.spend(d) for d, _ in below), ZERO),
            "influence": sum(0.5 ** (dist - 1) for _, dist in below),
            "tier": self.tier(ext).name,
            "depth": depth,
        }

    def tier(self, ext: str) -> Tier:
        qualified = sum(1 for c in self.children(ext) if self.qualified(c))
        revenue = sum((self.spend(d) for d, _ in self.descendants(ext)), ZERO)
        held = self.tiers[0]
        for tier in self.tiers:
            if tier.min_qualified <= qualified and tier.min_revenue <= revenue:
                held = tier
        return held

    def rewards(self) -> list[MReward]:
        return [r for p in self.purchases.values() for r in p.rewards]

    def balance(self, ext: str) -> dict[str, Decimal]:
        mine = [r for r in self.rewards() if r.beneficiary == ext]
        return {
            "pending": sum((r.amount for r in mine if r.status == "PENDING"), ZERO),
            "approved": sum((r.amount for r in mine if r.status == "APPROVED"), ZERO),
            "reversed": sum((r.first - r.amount for r in mine), ZERO),
        }

    def held(self, reward: MReward) -> bool:
        return any(self.customers[r].status == "FLAGGED" for r in reward.path)

    # Operations: each returns what the API must answer.

    def record(
        self, ext: str, order: str, amount: Decimal, at: datetime
    ) -> tuple[str | None, list[MReward]]:
        existing = self.purchases.get(order)
        if existing is not None:
            if existing.customer != ext or existing.amount != amount:
                return "ORDER_CONFLICT", []
            return None, existing.rewards
        if ext not in self.customers:
            return "UNKNOWN_CUSTOMER", []
        longest = max(len(t.rates) for t in self.tiers)
        raws: list[tuple[str, int, Decimal, str, Decimal, list[str]]] = []
        path, level, node = [ext], 1, ext
        while (up := self.parent(node)) is not None and level <= longest:
            if self.customers[up].erased:
                if not self.compression:
                    level += 1
            else:
                tier = self.tier(up)
                if level <= len(tier.rates):
                    rate = tier.rates[level - 1]
                    raw = round_down(amount * rate, self.currency)
                    raws.append((up, level, rate, tier.name, raw, list(path)))
                level += 1
            path.append(up)
            node = up
        cap = round_down(amount * self.max_payout, self.currency)
        paid = self.capped([r[4] for r in raws], cap)
        available = at + timedelta(days=self.hold_days)
        rewards = [
            MReward(who, order, COMMISSION, lvl, rate, tier, amt, amt, "PENDING", available, p)
            for (who, lvl, rate, tier, _, p), amt in zip(raws, paid, strict=True)
            if amt > 0
        ]
        first_purchase = not any(p.customer == ext for p in self.purchases.values())
        welcome = min(self.welcome, amount)
        if (
            self.parent(ext) is not None
            and first_purchase
            and not self.customers[ext].erased
            and welcome > 0
        ):
            rewards.append(
                MReward(
                    ext,
                    order,
                    WELCOME,
                    0,
                    None,
                    None,
                    welcome,
                    welcome,
                    "PENDING",
                    available,
                    [ext],
                )
            )
        self.purchases[order] = MPurchase(order, ext, amount, rewards=rewards)
        return None, rewards

    @staticmethod
    def capped(raws: list[Decimal], cap: Decimal) -> list[Decimal]:
        if sum(raws, ZERO) <= cap:
            return raws
        out: list[Decimal] = []
        for raw in raws:
            out.append(max(ZERO, min(raw, cap - sum(out, ZERO))))
        return out

    def refund(self, order: str, amount: Decimal | None) -> str | None:
        purchase = self.purchases.get(order)
        if purchase is None:
            return "NOT_FOUND"
        left = purchase.amount - purchase.refunded
        wanted = left if amount is None else amount
        if wanted <= 0:
            return "INVALID_AMOUNT"
        if wanted > left:
            return "REFUND_EXCEEDS_PURCHASE"
        purchase.refunded += wanted
        net = purchase.amount - purchase.refunded
        commissions = sorted(
            (r for r in purchase.rewards if r.kind == COMMISSION), key=lambda r: r.level
        )
        raws = [round_down(net * (r.rate or ZERO), self.currency) for r in commissions]
        cap = round_down(net * self.max_payout, self.currency)
        for reward, amt in zip(commissions, self.capped(raws, cap), strict=True):
            self.set_amount(reward, amt)
        for reward in purchase.rewards:
            if reward.kind == WELCOME:
                self.set_amount(reward, min(reward.first, net))
        return None

    @staticmethod
    def set_amount(reward: MReward, amount: Decimal) -> None:
        if reward.status == "REVERSED":
            return
        reward.amount = amount
        if amount == 0:
            reward.status = "REVERSED"

    def settle(self, as_of: datetime) -> tuple[int, Decimal]:
        approved = [
            r
            for r in self.rewards()
            if r.status == "PENDING" and r.available_at <= as_of and not self.held(r)
        ]
        for r in approved:
            r.status = "APPROVED"
        return len(approved), sum((r.amount for r in approved), ZERO)

    def review(self, ext: str, decision: str) -> bool:
        """False when the review must be refused (a REJECTED link stays rejected)."""
        customer = self.customers[ext]
        if customer.status == "REJECTED":
            return False
        if decision == "APPROVE":
            customer.status = "ACTIVE"
            return True
        customer.status = "REJECTED"
        for r in self.rewards():
            if r.status == "PENDING" and ext in r.path:
                r.amount, r.status = ZERO, "REVERSED"
        return True

    def erase(self, ext: str) -> None:
        customer = self.customers[ext]
        if customer.erased:
            return
        customer.erased = True
        for r in self.rewards():
            if r.beneficiary == ext and r.status == "PENDING":
                r.amount, r.status = ZERO, "REVERSED"


# --- What hypothesis draws ------------------------------------------------------------


@st.composite
def programs(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(["IDR", "USD"]))
    steps = REVENUE_STEPS[currency]
    count = draw(st.integers(1, 3))
    qualified = sorted(draw(st.lists(st.integers(0, 3), min_size=count - 1, max_size=count - 1)))
    revenue = sorted(draw(st.lists(st.sampled_from(steps), min_size=count - 1, max_size=count - 1)))
    tiers = []
    for i in range(count):
        levels = draw(st.sampled_from([3, 2, 4, 1]))
        rates = draw(st.lists(st.sampled_from(RATES), min_size=levels, max_size=levels))
        tier: dict[str, Any] = {"name": f"T{i}", "levelRates": rates}
        if i:
            tier["minQualifiedReferrals"] = qualified[i - 1]
            tier["minNetworkRevenue"] = str(revenue[i - 1])
        tiers.append(tier)
    return {
        "currency": currency,
        "tiers": tiers,
        "maxPayoutRate": draw(st.sampled_from(CAPS)),
        "refereeReward": draw(st.sampled_from(WELCOMES[currency])),
        "holdDays": draw(st.integers(0, 2)),
        "compression": draw(st.booleans()),
    }


def amounts(currency: str) -> st.SearchStrategy[str]:
    cents = st.one_of(st.integers(1, 3000), st.integers(3000, 30_000_000))
    if currency == "IDR":
        return cents.map(str)
    return cents.map(lambda c: str(Decimal(c) / 100))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """A program and up to 12 sign-ups interleaved with up to 20 other operations."""
    program = draw(programs())
    currency = program["currency"]
    size = draw(st.integers(2, 12))
    ops: list[tuple[Any, ...]] = [("register", 0, None, False)]
    orders = 0
    pending_signups = list(range(1, size))
    others = draw(st.integers(4, 20))
    referrers: dict[int, int] = {}
    while pending_signups or others:
        signed_up = size - len(pending_signups)
        if pending_signups and (not others or draw(st.integers(0, 3)) > 0):
            i = pending_signups.pop(0)
            # Mostly deep chains, some bushes, a few new roots.
            shape = draw(st.sampled_from(["root", "chain", "chain", "chain", "any", "any"]))
            if shape == "root":
                referrer = None
            elif shape == "chain":
                referrer = max(0, i - 1 - draw(st.integers(0, 1)))
            else:
                referrer = draw(st.integers(0, i - 1))
            flagged = referrer is not None and draw(st.integers(0, 3)) == 0
            ops.append(("register", i, referrer, flagged))
            if referrer is not None:
                referrers[i] = referrer
            continue
        others -= 1
        kind = draw(
            st.sampled_from(
                ["purchase"] * 6
                + ["replay", "refund", "refund", "review", "review"]
                + ["erase", "erase", "settle"]
            )
        )
        # Purchasers lean to the latest sign-ups (deep in chains); the others to the first.
        who = draw(st.integers(0, signed_up - 1))
        if kind in ("purchase", "replay"):
            who = signed_up - 1 - who
        if kind == "purchase" or (kind in ("replay", "refund") and not orders):
            ops.append(("purchase", who, f"o{orders}", draw(amounts(currency))))
            orders += 1
        elif kind == "replay":
            order = draw(st.integers(0, orders - 1))
            ops.append(("replay", who, order, draw(amounts(currency))))
        elif kind == "refund":
            order = draw(st.integers(0, orders))  # orders itself: unknown
            full = draw(st.booleans())
            ops.append(("refund", order, None if full else draw(amounts(currency))))
        elif kind == "review":
            ops.append(("review", who, draw(st.sampled_from(["APPROVE", "REJECT"]))))
        elif kind == "erase":
            # Mostly someone in the middle of a chain: what compression is about.
            middle = sorted(set(referrers.values()) & set(referrers))
            in_middle = draw(st.booleans())
            if middle and in_middle:
                who = draw(st.sampled_from(middle))
            ops.append(("erase", who))
        else:
            ops.append(("settle", draw(st.integers(0, 24 * 4))))
    return program, ops


def model_of(rules: dict[str, Any]) -> Model:
    """The model of a program drawn by `programs()` (createProgram's input)."""
    return Model(
        currency=rules["currency"],
        tiers=[
            Tier(
                t["name"],
                t.get("minQualifiedReferrals", 0),
                Decimal(t.get("minNetworkRevenue", "0")),
                [Decimal(r) for r in t["levelRates"]],
            )
            for t in rules["tiers"]
        ],
        max_payout=Decimal(rules["maxPayoutRate"]),
        welcome=Decimal(rules["refereeReward"]),
        hold_days=rules["holdDays"],
        compression=rules["compression"],
    )
