"""Signing up a customer, with or without a referral code, and the fraud checks on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rujuk import codes as code_text
from rujuk import contacts
from rujuk.access import Principal
from rujuk.db import codes as code_queries
from rujuk.db import customers as customer_queries
from rujuk.db import referrals as referral_queries
from rujuk.db.pool import Connection
from rujuk.errors import DomainError
from rujuk.graph.events import CustomerRegistered
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.records import Customer, Program, Referral, ReferralCode
from rujuk.services.runtime import Runtime
from rujuk.services.webhook_events import REFERRAL_CREATED, referral_event
from rujuk.text import CONTROL
from rujuk.vocabulary import Channel, CodeKind, FraudSignal, ReferralStatus

# rewards.md: the owner and the owner's ancestors up to 10 levels.
SELF_REFERRAL_LEVELS = 10
VELOCITY_WINDOW = timedelta(hours=1)
VELOCITY_LIMIT = 20
# SHARED_IP looks back this far, by joinedAt; the limit is the program's maxSignupsPerIpPerDay.
SHARED_IP_WINDOW = timedelta(hours=24)
MAX_TEXT = 200
# A sign-up may be backdated (imports), not dated in the future beyond clock skew.
MAX_CLOCK_SKEW = timedelta(minutes=5)
CHANNELS = frozenset(Channel)


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a partner sends to register a customer."""

    program_id: int | None
    external_id: str
    display_name: str
    email: str | None
    phone: str | None
    referral_code: str | None
    channel: str
    device_id: str | None
    joined_at: datetime | None
    ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """The customer, and its link when it signed up with a code."""

    customer: Customer
    referral: Referral | None


def check_sign_up(sign_up: SignUp) -> None:
    """Refuse malformed input before touching the database."""

    def bad(field: str, message: str) -> DomainError:
        return DomainError("INVALID_INPUT", message, field)

    external_id = sign_up.external_id
    if (
        not 1 <= len(external_id) <= MAX_TEXT
        or external_id != external_id.strip()
        or CONTROL.search(external_id)
    ):
        raise bad(
            "external_id",
            "externalId must be 1 to 200 characters, no surrounding spaces or control characters",
        )
    if not 1 <= len(sign_up.display_name.strip()) <= MAX_TEXT or CONTROL.search(
        sign_up.display_name.strip()
    ):
        raise bad(
            "display_name", "displayName must be 1 to 200 characters without control characters"
        )
    if sign_up.email is not None and not contacts.is_plausible_email(sign_up.email):
        raise bad("email", "email is not a valid e-mail address")
    if sign_up.phone is not None and not contacts.is_plausible_phone(sign_up.phone):
        raise bad("phone", "phone must hold 6 to 15 digits")
    if sign_up.device_id is not None and (
        not 1 <= len(sign_up.device_id) <= MAX_TEXT or CONTROL.search(sign_up.device_id)
    ):
        raise bad("device_id", "deviceId must be 1 to 200 characters without control characters")
    if sign_up.ip_address is not None and contacts.parse_ip(sign_up.ip_address) is None:
        raise bad("ip_address", "ipAddress must be an IPv4 or IPv6 address")
    if sign_up.referral_code is not None and len(sign_up.referral_code) > 64:
        raise DomainError("INVALID_CODE", "no such referral code", "referral_code")
    if sign_up.channel not in CHANNELS:
        raise bad("channel", "unknown channel")
    if sign_up.joined_at is not None and sign_up.joined_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise bad("joined_at", "joinedAt must not be in the future")


async def register_customer(
    runtime: Runtime, principal: Principal, sign_up: SignUp
) -> Registration:
    """Register a customer (idempotent on programId + externalId); DomainError when refused."""
    principal.require_authenticated()
    if sign_up.program_id is None:
        raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    principal.require_manager(sign_up.program_id)
    check_sign_up(sign_up)
    # Programs are never deleted: one known here is there to lock.
    if await runtime.graphs.program(sign_up.program_id) is None:
        raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    async with (
        runtime.pool.acquire() as conn,
        runtime.graph_writes.begin(conn, sign_up.program_id) as uow,
    ):
        existing = await customer_queries.find_customer(conn, uow.program.id, sign_up.external_id)
        if existing is not None:
            return await _replay(conn, uow.graph, existing, sign_up)
        # Dated under the program's lock, live sign-ups are dated in the order they take it:
        # the VELOCITY and SHARED_IP windows of each one (which end at its joinedAt) then hold
        # every sign-up committed before it, on any worker.
        joined_at = sign_up.joined_at or datetime.now(UTC)
        registration, event = await _insert(conn, uow.program, uow.graph, sign_up, joined_at)
        if registration.referral is not None:
            await runtime.outbox.write(
                conn, uow.program.id, [referral_event(REFERRAL_CREATED, registration.referral)]
            )
        await uow.append(event)
    return registration


async def _replay(
    conn: Connection, graph: ReferralGraph, existing: Customer, sign_up: SignUp
) -> Registration:
    """The same externalId again: the existing customer if the referrer matches."""
    referrer = graph.members[existing.id].referrer
    wanted: int | None = None
    if sign_up.referral_code is not None:
        found = await code_queries.find_codes(
            conn, code_text.normalize_typed_code(sign_up.referral_code)
        )
        wanted = (
            found[0].customer_id if found and found[0].program_id == existing.program_id else -1
        )
    if wanted != referrer:
        if referrer is None:
            held = "without a referrer"
        elif wanted is None:
            held = "with a referrer"
        else:
            held = "with another referrer"
        raise DomainError(
            "ALREADY_REGISTERED",
            f"this externalId is already registered {held}; a referrer is set once",
            "external_id",
        )
    links = await referral_queries.referrals_of_referees(conn, [existing.id])
    return Registration(existing, links[0] if links else None)


async def _usable_code(
    conn: Connection, program: Program, typed: str, at: datetime
) -> ReferralCode:
    """The code a sign-up names, if a new customer may use it now."""
    field = "referral_code"
    found = await code_queries.find_codes(conn, code_text.normalize_typed_code(typed), lock=True)
    code = found[0] if found else None
    if code is None or code.program_id != program.id:
        raise DomainError("INVALID_CODE", "no such referral code in this program", field)
    owner = await customer_queries.get_customer(conn, code.customer_id)
    if owner is None or owner.erased:
        raise DomainError("INVALID_CODE", "this referral code no longer works", field)
    if code.expires_at is not None and code.expires_at <= at:
        raise DomainError("CODE_EXPIRED", "this referral code has expired", field)
    if code.max_uses is not None and code.uses >= code.max_uses:
        raise DomainError("CODE_EXHAUSTED", "this referral code has been used up", field)
    return code


async def _insert(
    conn: Connection, program: Program, graph: ReferralGraph, sign_up: SignUp, joined_at: datetime
) -> tuple[Registration, CustomerRegistered]:
    email_key = contacts.email_key(sign_up.email) if sign_up.email else None
    phone_key = contacts.phone_key(sign_up.phone) if sign_up.phone else None
    ip = None if sign_up.ip_address is None else contacts.parse_ip(sign_up.ip_address)
    ip_key = None if ip is None else contacts.ip_key(ip)
    code: ReferralCode | None = None
    signals: list[str] = []
    if sign_up.referral_code is not None:
        code = await _usable_code(conn, program, sign_up.referral_code, datetime.now(UTC))
        # The program's domains are stored as domain keys (lower case, IDNs in xn-- form).
        if sign_up.email is not None and contacts.in_domains(
            contacts.email_domain(sign_up.email), frozenset(program.blocked_email_domains)
        ):
            raise DomainError(
                "BLOCKED_EMAIL_DOMAIN",
                "this program takes no referred sign-ups from this e-mail domain",
                "email",
            )
        upline = [code.customer_id, *graph.ancestors(code.customer_id, SELF_REFERRAL_LEVELS)]
        if (email_key or phone_key or sign_up.device_id) and await customer_queries.contact_owners(
            conn, upline, email_key=email_key, phone_key=phone_key, device_id=sign_up.device_id
        ):
            raise DomainError(
                "SELF_REFERRAL",
                "the referral code belongs to this customer or to someone above them",
                "referral_code",
            )
        signals = await _fraud_signals(
            conn, program, code, email_key, phone_key, ip_key, sign_up, joined_at
        )
    customer = await customer_queries.insert_customer(
        conn,
        program_id=program.id,
        external_id=sign_up.external_id,
        display_name=sign_up.display_name.strip(),
        email=sign_up.email.strip() if sign_up.email else None,
        phone=sign_up.phone.strip() if sign_up.phone else None,
        device_id=sign_up.device_id,
        email_key=email_key,
        phone_key=phone_key,
        ip_address=None if ip is None else str(ip),
        ip_key=ip_key,
        channel=sign_up.channel,
        joined_at=joined_at,
    )
    await _issue_default_code(conn, customer)
    referral: Referral | None = None
    if code is not None:
        await code_queries.count_code_uses(conn, code.code)
        referral = await referral_queries.insert_referral(
            conn,
            program_id=program.id,
            referee_id=customer.id,
            referrer_id=code.customer_id,
            code=code.code,
            channel=sign_up.channel,
            status=ReferralStatus.FLAGGED if signals else ReferralStatus.ACTIVE,
            fraud_signals=signals,
            created_at=joined_at,
        )
    event = CustomerRegistered(
        id=customer.id,
        external_id=customer.external_id,
        joined_at=customer.joined_at,
        referrer_id=referral.referrer_id if referral else None,
        status=referral.status if referral else None,
    )
    return Registration(customer, referral), event


async def _fraud_signals(
    conn: Connection,
    program: Program,
    code: ReferralCode,
    email_key: str | None,
    phone_key: str | None,
    ip_key: str | None,
    sign_up: SignUp,
    joined_at: datetime,
) -> list[str]:
    """Why a sign-up with a code that passed looks wrong (vocabulary.FraudSignal, in its order).

    Runs under the program's lock, so the counts see every earlier sign-up of the program
    and none can slip in between a count and this sign-up's insert.
    """
    signals: list[str] = []
    shared_device, duplicate_contact = await customer_queries.shared_contacts(
        conn, program.id, email_key=email_key, phone_key=phone_key, device_id=sign_up.device_id
    )
    if shared_device:
        signals.append(FraudSignal.SHARED_DEVICE)
    if duplicate_contact:
        signals.append(FraudSignal.DUPLICATE_CONTACT)
    recent = await referral_queries.recent_code_uses(
        conn, code.code, joined_at - VELOCITY_WINDOW, joined_at
    )
    # This sign-up is a use too: the 21st within the hour is past the limit.
    if recent + 1 > VELOCITY_LIMIT:
        signals.append(FraudSignal.VELOCITY)
    if sign_up.email is not None and contacts.is_disposable(contacts.email_domain(sign_up.email)):
        signals.append(FraudSignal.DISPOSABLE_EMAIL)
    if ip_key is not None:
        earlier = await customer_queries.referred_sign_ups_from(
            conn, program.id, ip_key, joined_at - SHARED_IP_WINDOW, joined_at
        )
        # This sign-up counts too: with the default of 10, the 11th within 24 hours is flagged.
        if earlier + 1 > program.max_signups_per_ip_per_day:
            signals.append(FraudSignal.SHARED_IP)
    return signals


async def _issue_default_code(conn: Connection, customer: Customer) -> ReferralCode:
    """Every customer gets a MULTI_USE Crockford code at registration."""
    while True:
        code = await code_queries.insert_code(
            conn,
            code=code_text.new_default_code(),
            program_id=customer.program_id,
            customer_id=customer.id,
            kind=CodeKind.MULTI_USE,
            max_uses=None,
            expires_at=None,
        )
        if code is not None:
            return code
