"""An independent brute-force model of rewards.md, and the scenarios hypothesis draws for it.

`Model` keeps only the raw facts (links, purchases with the rules they were priced under,
rewards) and recomputes every figure from scratch by plain traversal. Two tests hold the
engine to it: tests/test_engine_model.py through GraphQL over HTTP against PostgreSQL,
tests/test_rules_model.py on the pure rules in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

# Purchases are STEP apart from BASE: a scenario crosses the end of January in Jakarta
# (17:00 UTC on the 31st), in UTC and in New York, and commission windows of a few days.
BASE = datetime(2026, 1, 30, 6, tzinfo=UTC)
STEP = timedelta(hours=5)
ZERO = Decimal(0)
# Hypothesis favours the first choice: a plain rate, not 0.
RATES = ["0.1", "0.05", "0.2", "0.025", "0.333", "0.15", "0.01", "0", "0.5", "1"]
CAPS = ["0.3", "0.1", "0.2", "0.05", "0.5", "1"]
REVENUE_STEPS = {"IDR": [0, 1000, 20000, 200000], "USD": [0, 10, 200, 2000]}
WELCOMES = {"IDR": ["0", "500", "5000"], "USD": ["0", "0.5", "5"]}
FLATS = {"IDR": ["0", "100", "2500"], "USD": ["0", "1", "0.25"]}
MINIMUMS = {"IDR": ["0", "1000", "50000"], "USD": ["0", "10", "500"]}
MONTHLY_CAPS = {"IDR": ["5000", "1000", "0", "200000"], "USD": ["50", "10", "0", "2000"]}
BONUSES = {"IDR": ["700", "5000"], "USD": ["7", "0.5"]}
ZONES = ["Asia/Jakarta", "UTC", "America/New_York", "Europe/Berlin"]
COMMISSION = "REFERRER_COMMISSION"
WELCOME = "REFEREE_WELCOME"
MILESTONE = "MILESTONE_BONUS"


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
    joined: datetime = BASE


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
    milestone: int | None = None
    # A milestone bonus of an approval: available holdDays after the review's own time.
    by_review: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.beneficiary, self.order, self.kind, self.level, self.milestone)


@dataclass
class Tier:
    name: str
    min_qualified: int
    min_revenue: Decimal
    rates: list[Decimal]
    amounts: list[Decimal] = field(default_factory=list)

    @property
    def levels(self) -> int:
        return max(len(self.rates), len(self.amounts))

    def at(self, values: list[Decimal], level: int) -> Decimal:
        return values[level - 1] if level <= len(values) else ZERO


@dataclass(frozen=True)
class Rules:
    """One version of a program's rules."""

    tiers: list[Tier]
    max_payout: Decimal
    welcome: Decimal
    hold_days: int
    compression: bool
    active: bool = True
    time_zone: str = "Asia/Jakarta"
    min_purchase: Decimal = ZERO
    window_days: int | None = None
    purchase_limit: int | None = None
    monthly_cap: Decimal | None = None
    milestones: list[tuple[int, Decimal]] = field(default_factory=list)


@dataclass
class MPurchase:
    order: str
    customer: str
    amount: Decimal
    at: datetime
    rules: Rules
    eligible: bool
    refunded: Decimal = ZERO
    rewards: list[MReward] = field(default_factory=list)


@dataclass
class Model:
    """rewards.md from "Per-customer figures" to "Settling, review, erasure", by brute force."""

    currency: str
    rules: Rules
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
            "qualifiedReferrals": self.qualified_referrals(ext),
            "networkSize": len(below),
            "networkRevenue": sum((self.spend(d) for d, _ in below), ZERO),
            "influence": sum(0.5 ** (dist - 1) for _, dist in below),
            "tier": self.tier(ext).name,
            "depth": depth,
        }

    def qualified_referrals(self, ext: str) -> int:
        return sum(1 for c in self.children(ext) if self.qualified(c))

    def tier(self, ext: str) -> Tier:
        qualified = self.qualified_referrals(ext)
        revenue = sum((self.spend(d) for d, _ in self.descendants(ext)), ZERO)
        held = self.rules.tiers[0]
        for tier in self.rules.tiers:
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

    def month(self, at: datetime) -> tuple[int, int]:
        local = at.astimezone(ZoneInfo(self.rules.time_zone))
        return local.year, local.month

    def used(self, beneficiary: str, at: datetime) -> Decimal:
        """Monthly cap: b's commissions, not REVERSED, of purchases in at's month."""
        month = self.month(at)
        return sum(
            (
                r.amount
                for p in self.purchases.values()
                if self.month(p.at) == month
                for r in p.rewards
                if r.beneficiary == beneficiary and r.kind == COMMISSION and r.status != "REVERSED"
            ),
            ZERO,
        )

    def holds(self, ext: str, threshold: int) -> bool:
        return any(
            r.beneficiary == ext
            and r.kind == MILESTONE
            and r.milestone == threshold
            and r.status != "REVERSED"
            for r in self.rewards()
        )

    def bonuses(
        self, referee: str, order: str, at: datetime, by_review: bool = False
    ) -> list[MReward]:
        """The bonuses of the rise `referee` just made (it is qualified now), when it earns."""
        x = self.parent(referee)
        if x is None or self.customers[x].erased or not self.rules.active:
            return []
        q = self.qualified_referrals(x)
        available = at + timedelta(days=self.rules.hold_days)
        return [
            MReward(
                x,
                order,
                MILESTONE,
                0,
                None,
                None,
                bonus,
                bonus,
                "PENDING",
                available,
                [referee],
                milestone,
                by_review,
            )
            for milestone, bonus in self.rules.milestones
            if milestone <= q and not self.holds(x, milestone)
        ]

    # Operations: each returns what the API must answer.

    def update(self, rules: Rules) -> None:
        self.rules = rules

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
        rules = self.rules
        eligible = rules.active and amount >= rules.min_purchase
        earlier = sum(1 for p in self.purchases.values() if p.customer == ext and p.eligible)
        customer = self.customers[ext]
        pays = (
            eligible
            and (
                rules.window_days is None
                or at < customer.joined + timedelta(days=rules.window_days)
            )
            and (rules.purchase_limit is None or earlier < rules.purchase_limit)
        )
        available = at + timedelta(days=rules.hold_days)
        rewards: list[MReward] = []
        if pays:
            longest = max(t.levels for t in rules.tiers)
            raws: list[tuple[str, int, Decimal, str, Decimal, list[str]]] = []
            path, level, node = [ext], 1, ext
            while (up := self.parent(node)) is not None and level <= longest:
                if self.customers[up].erased:
                    if not rules.compression:
                        level += 1
                else:
                    tier = self.tier(up)
                    if level <= tier.levels:
                        rate = tier.at(tier.rates, level)
                        raw = round_down(amount * rate, self.currency) + tier.at(
                            tier.amounts, level
                        )
                        raws.append((up, level, rate, tier.name, raw, list(path)))
                    level += 1
                path.append(up)
                node = up
            cap = round_down(amount * rules.max_payout, self.currency)
            paid = self.capped([r[4] for r in raws], cap)
            if rules.monthly_cap is not None:
                paid = [
                    max(ZERO, min(amt, rules.monthly_cap - self.used(r[0], at)))
                    for r, amt in zip(raws, paid, strict=True)
                ]
            rewards = [
                MReward(who, order, COMMISSION, lvl, rate, tier, amt, amt, "PENDING", available, p)
                for (who, lvl, rate, tier, _, p), amt in zip(raws, paid, strict=True)
                if amt > 0
            ]
        welcome = min(rules.welcome, amount)
        if (
            eligible
            and self.parent(ext) is not None
            and earlier == 0
            and not customer.erased
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
        was_qualified = self.qualified(ext)
        purchase = MPurchase(order, ext, amount, at, rules, eligible, rewards=rewards)
        self.purchases[order] = purchase
        if eligible and not was_qualified and self.qualified(ext):
            rewards += self.bonuses(ext, order, at)
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
        rules = purchase.rules  # the version it was priced under
        commissions = sorted(
            (r for r in purchase.rewards if r.kind == COMMISSION), key=lambda r: r.level
        )
        raws = []
        for r in commissions:
            tier = next(t for t in rules.tiers if t.name == r.tier)
            flat = tier.at(tier.amounts, r.level) if net > 0 else ZERO
            raws.append(round_down(net * (r.rate or ZERO), self.currency) + flat)
        cap = round_down(net * rules.max_payout, self.currency)
        for reward, amt in zip(commissions, self.capped(raws, cap), strict=True):
            self.set_amount(reward, amt)
        for reward in purchase.rewards:
            if reward.kind == WELCOME:
                self.set_amount(reward, min(reward.first, net))
            elif reward.kind == MILESTONE:
                self.set_amount(reward, reward.first if net > 0 else ZERO)
        return None

    @staticmethod
    def set_amount(reward: MReward, amount: Decimal) -> None:
        if reward.status == "REVERSED":
            return
        reward.amount = min(amount, reward.amount)
        if reward.amount == 0:
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

    def review(self, ext: str, decision: str, at: datetime) -> bool:
        """False when the review must be refused (a REJECTED link stays rejected)."""
        customer = self.customers[ext]
        if customer.status == "REJECTED":
            return False
        if decision == "APPROVE":
            was_qualified = self.qualified(ext)
            customer.status = "ACTIVE"
            if not was_qualified and self.qualified(ext):
                # The rise belongs to ext's earliest-recorded eligible purchase with net > 0.
                owner = next(
                    (
                        p
                        for p in self.purchases.values()
                        if p.customer == ext and p.eligible and p.amount > p.refunded
                    ),
                    None,
                )
                if owner is not None:
                    owner.rewards += self.bonuses(ext, owner.order, at, by_review=True)
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
def tier_lists(draw: st.DrawFn, currency: str, v2: bool) -> list[dict[str, Any]]:
    steps = REVENUE_STEPS[currency]
    count = draw(st.integers(1, 3))
    qualified = sorted(draw(st.lists(st.integers(0, 3), min_size=count - 1, max_size=count - 1)))
    revenue = sorted(draw(st.lists(st.sampled_from(steps), min_size=count - 1, max_size=count - 1)))
    tiers = []
    for i in range(count):
        levels = draw(st.sampled_from([3, 2, 4, 1]))
        rates = draw(st.lists(st.sampled_from(RATES), min_size=levels, max_size=levels))
        tier: dict[str, Any] = {"name": f"T{i}", "levelRates": rates}
        if v2 and draw(st.booleans()):
            flat = draw(st.integers(0, 4))
            tier["levelAmounts"] = draw(
                st.lists(st.sampled_from(FLATS[currency]), min_size=flat, max_size=flat)
            )
        if i:
            tier["minQualifiedReferrals"] = qualified[i - 1]
            tier["minNetworkRevenue"] = str(revenue[i - 1])
        tiers.append(tier)
    return tiers


@st.composite
def v2_rules(draw: st.DrawFn, currency: str, update: bool = False) -> dict[str, Any]:
    """Contract v2's rules, each switched on about half the time (a pause only by an
    update: createProgram has no `active`)."""
    rules: dict[str, Any] = {}

    def maybe(name: str, strategy: st.SearchStrategy[Any]) -> None:
        if draw(st.booleans()):
            rules[name] = draw(strategy)

    maybe("timeZone", st.sampled_from(ZONES))
    maybe("minPurchaseAmount", st.sampled_from(MINIMUMS[currency]))
    maybe("commissionWindowDays", st.integers(1, 4))
    maybe("commissionPurchaseLimit", st.integers(1, 3))
    maybe("monthlyCapPerReferrer", st.sampled_from(MONTHLY_CAPS[currency]))
    if draw(st.integers(0, 2)) > 0:
        thresholds = sorted(set(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))))
        rules["milestones"] = [
            {"qualifiedReferrals": q, "reward": draw(st.sampled_from(BONUSES[currency]))}
            for q in thresholds
        ]
    if update and draw(st.integers(0, 3)) == 0:
        rules["active"] = False
    return rules


@st.composite
def programs(draw: st.DrawFn, v2: bool = True) -> dict[str, Any]:
    currency = draw(st.sampled_from(["IDR", "USD"]))
    program = {
        "currency": currency,
        "tiers": draw(tier_lists(currency, v2)),
        "maxPayoutRate": draw(st.sampled_from(CAPS)),
        "refereeReward": draw(st.sampled_from(WELCOMES[currency])),
        "holdDays": draw(st.integers(0, 2)),
        "compression": draw(st.booleans()),
    }
    if v2:
        program.update(draw(v2_rules(currency)))
    return program


@st.composite
def updates(draw: st.DrawFn, currency: str) -> dict[str, Any]:
    """An updateProgram input (without programId): a few fields changed."""
    change = draw(v2_rules(currency, update=True))
    if draw(st.booleans()):
        change["tiers"] = draw(tier_lists(currency, True))
    if draw(st.booleans()):
        change["maxPayoutRate"] = draw(st.sampled_from(CAPS))
    if draw(st.integers(0, 3)) == 0:
        change["refereeReward"] = draw(st.sampled_from(WELCOMES[currency]))
    if "active" not in change and draw(st.integers(0, 2)) == 0:
        change["active"] = True  # resume a paused program
    return change


def amounts(currency: str) -> st.SearchStrategy[str]:
    cents = st.one_of(st.integers(1, 3000), st.integers(3000, 30_000_000))
    if currency == "IDR":
        return cents.map(str)
    return cents.map(lambda c: str(Decimal(c) / 100))


@st.composite
def scenarios(draw: st.DrawFn, v2: bool = True) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """A program and up to 12 sign-ups interleaved with up to 20 other operations (rule
    updates among them with v2)."""
    program = draw(programs(v2))
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
                + (["update"] if v2 else [])
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
        elif kind == "update":
            ops.append(("update", draw(updates(currency))))
        else:
            ops.append(("settle", draw(st.integers(0, 24 * 8))))
    return program, ops


def tier_of(t: dict[str, Any]) -> Tier:
    return Tier(
        t["name"],
        t.get("minQualifiedReferrals", 0),
        Decimal(t.get("minNetworkRevenue", "0")),
        [Decimal(r) for r in t["levelRates"]],
        [Decimal(a) for a in t.get("levelAmounts", [])],
    )


def rules_of(fields: dict[str, Any], base: Rules | None = None) -> Rules:
    """The rules of createProgram's input, or of an updateProgram input over `base`."""
    changes: dict[str, Any] = {}
    names = {
        "maxPayoutRate": ("max_payout", Decimal),
        "refereeReward": ("welcome", Decimal),
        "holdDays": ("hold_days", int),
        "compression": ("compression", bool),
        "active": ("active", bool),
        "timeZone": ("time_zone", str),
        "minPurchaseAmount": ("min_purchase", Decimal),
        "commissionWindowDays": ("window_days", int),
        "commissionPurchaseLimit": ("purchase_limit", int),
        "monthlyCapPerReferrer": ("monthly_cap", Decimal),
    }
    for name, (attribute, kind) in names.items():
        if name in fields:
            changes[attribute] = kind(fields[name])
    if "tiers" in fields:
        changes["tiers"] = [tier_of(t) for t in fields["tiers"]]
    if "milestones" in fields:
        changes["milestones"] = [
            (m["qualifiedReferrals"], Decimal(m["reward"])) for m in fields["milestones"]
        ]
    if base is not None:
        return replace(base, **changes)
    return Rules(**changes)


def model_of(rules: dict[str, Any]) -> Model:
    """The model of a program drawn by `programs()` (createProgram's input)."""
    return Model(currency=rules["currency"], rules=rules_of(rules))
