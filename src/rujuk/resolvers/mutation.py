"""Root mutation fields: input to a domain call, DomainErrors to userErrors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal, TypeVar

import strawberry

from rujuk import ids
from rujuk.errors import DomainError, DomainErrors
from rujuk.records import MilestoneRule, TierRule
from rujuk.schema.inputs import (
    CreateApiTokenInput,
    CreateProgramInput,
    EraseCustomerInput,
    IssueCustomerTokenInput,
    IssueReferralCodeInput,
    MilestoneRuleInput,
    RecordPurchaseInput,
    RefundPurchaseInput,
    RegisterCustomerInput,
    ReviewReferralInput,
    RevokeApiTokenInput,
    SettleRewardsInput,
    TierRuleInput,
    UpdateProgramInput,
)
from rujuk.schema.payloads import (
    ApiTokenPayload,
    CustomerPayload,
    CustomerTokenPayload,
    ProgramPayload,
    PurchasePayload,
    ReferralCodePayload,
    ReferralPayload,
    RegisterCustomerPayload,
    RevokeApiTokenPayload,
    SettleRewardsPayload,
    UserError,
)
from rujuk.schema.types import (
    ApiToken,
    Customer,
    Info,
    Program,
    Purchase,
    Referral,
    ReferralCode,
    Reward,
)
from rujuk.schema.webhooks import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    RedeliverWebhookEventInput,
    RedeliverWebhookEventPayload,
    SendTestWebhookEventInput,
    SendTestWebhookEventPayload,
    UpdateWebhookEndpointInput,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointInput,
    WebhookEndpointPayload,
    WebhookEvent,
)
from rujuk.services import (
    programs,
    purchases,
    referral_codes,
    registration,
    reviews,
    tokens,
    webhooks,
)
from rujuk.services.purchase_writer import PurchaseResult

T = TypeVar("T")


async def attempt(call: Awaitable[T]) -> T | UserError:
    """The call's result, or its DomainError as a UserError."""
    try:
        return await call
    except DomainError as error:
        return UserError.of(error)


async def attempt_all(call: Awaitable[T]) -> T | list[UserError]:
    """The call's result, or each of its DomainErrors as a UserError."""
    try:
        return await call
    except DomainErrors as errors:
        return [UserError.of(e) for e in errors.errors]
    except DomainError as error:
        return [UserError.of(error)]


def _tiers(given: list[TierRuleInput]) -> tuple[TierRule, ...]:
    return tuple(
        TierRule(
            t.name,
            t.min_qualified_referrals,
            t.min_network_revenue,
            tuple(t.level_rates),
            tuple(t.level_amounts),
        )
        for t in given
    )


def _milestones(given: list[MilestoneRuleInput]) -> tuple[MilestoneRule, ...]:
    return tuple(MilestoneRule(m.qualified_referrals, m.reward) for m in given)


def _given(value: T | None) -> T | None:
    """An optional field of UpdateProgramInput: omitted (or null) keeps the value."""
    return None if value is strawberry.UNSET else value


def _limit(value: T | None) -> T | Literal[programs.Keep.KEEP] | None:
    """A removable limit of UpdateProgramInput: omitted keeps it, null removes it."""
    return programs.KEEP if value is strawberry.UNSET else value


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_program(self, info: Info, input: CreateProgramInput) -> ProgramPayload:
        draft = programs.ProgramDraft(
            name=input.name,
            currency=input.currency,
            tiers=_tiers(input.tiers),
            max_payout_rate=input.max_payout_rate,
            referee_reward=input.referee_reward,
            hold_days=input.hold_days,
            compression=input.compression,
            time_zone=input.time_zone,
            min_purchase_amount=input.min_purchase_amount,
            commission_window_days=input.commission_window_days,
            commission_purchase_limit=input.commission_purchase_limit,
            monthly_cap_per_referrer=input.monthly_cap_per_referrer,
            milestones=_milestones(input.milestones),
            blocked_email_domains=tuple(input.blocked_email_domains),
            max_signups_per_ip_per_day=input.max_signups_per_ip_per_day,
        )
        result = await attempt_all(
            programs.create_program(info.context.runtime, info.context.principal, draft)
        )
        if isinstance(result, list):
            return ProgramPayload(user_errors=result)
        return ProgramPayload(program=Program.of(result))

    @strawberry.mutation(description="ADMIN, or a PARTNER of that program.")
    async def update_program(self, info: Info, input: UpdateProgramInput) -> ProgramPayload:
        tiers = _given(input.tiers)
        milestones = _given(input.milestones)
        domains = _given(input.blocked_email_domains)
        changes = programs.ProgramChanges(
            name=_given(input.name),
            active=_given(input.active),
            tiers=None if tiers is None else _tiers(tiers),
            max_payout_rate=_given(input.max_payout_rate),
            referee_reward=_given(input.referee_reward),
            hold_days=_given(input.hold_days),
            compression=_given(input.compression),
            time_zone=_given(input.time_zone),
            min_purchase_amount=_given(input.min_purchase_amount),
            commission_window_days=_limit(input.commission_window_days),
            commission_purchase_limit=_limit(input.commission_purchase_limit),
            monthly_cap_per_referrer=_limit(input.monthly_cap_per_referrer),
            milestones=None if milestones is None else _milestones(milestones),
            blocked_email_domains=None if domains is None else tuple(domains),
            max_signups_per_ip_per_day=_given(input.max_signups_per_ip_per_day),
        )
        result = await attempt_all(
            programs.update_program(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.program_id, "Program"),
                changes,
            )
        )
        if isinstance(result, list):
            return ProgramPayload(user_errors=result)
        return ProgramPayload(program=Program.of(result))

    @strawberry.mutation
    async def register_customer(
        self, info: Info, input: RegisterCustomerInput
    ) -> RegisterCustomerPayload:
        sign_up = registration.SignUp(
            program_id=ids.local_id(input.program_id, "Program"),
            external_id=input.external_id,
            display_name=input.display_name,
            email=input.email,
            phone=input.phone,
            referral_code=input.referral_code,
            channel=input.channel.value,
            device_id=input.device_id,
            joined_at=input.joined_at,
            ip_address=input.ip_address,
        )
        result = await attempt(
            registration.register_customer(info.context.runtime, info.context.principal, sign_up)
        )
        if isinstance(result, UserError):
            return RegisterCustomerPayload(user_errors=[result])
        return RegisterCustomerPayload(
            customer=Customer.of(result.customer),
            referral=None if result.referral is None else Referral.of(result.referral),
        )

    @strawberry.mutation
    async def issue_referral_code(
        self, info: Info, input: IssueReferralCodeInput
    ) -> ReferralCodePayload:
        request = referral_codes.CodeRequest(
            customer_id=ids.local_id(input.customer_id, "Customer"),
            kind=input.kind.name,
            max_uses=input.max_uses,
            expires_at=input.expires_at,
            vanity=input.vanity,
        )
        result = await attempt(
            referral_codes.issue_code(info.context.runtime, info.context.principal, request)
        )
        if isinstance(result, UserError):
            return ReferralCodePayload(user_errors=[result])
        return ReferralCodePayload(referral_code=ReferralCode.of(result))

    @strawberry.mutation
    async def create_api_token(self, info: Info, input: CreateApiTokenInput) -> ApiTokenPayload:
        program_id: int | None = None
        if input.program_id is not None:
            program_id = ids.local_id(input.program_id, "Program")
            if program_id is None:
                unknown = DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
                return ApiTokenPayload(user_errors=[UserError.of(unknown)])
        result = await attempt(
            tokens.create_api_token(
                info.context.runtime,
                info.context.principal,
                input.role.value,
                program_id,
                input.label,
            )
        )
        if isinstance(result, UserError):
            return ApiTokenPayload(user_errors=[result])
        return ApiTokenPayload(token=result.token, api_token=ApiToken.of(result.record))

    @strawberry.mutation(
        description="Revoke an API token for good: ADMIN any, a PARTNER its program's PARTNER "
        "tokens. Requests with it then get UNAUTHENTICATED."
    )
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenPayload:
        result = await attempt(
            tokens.revoke_api_token(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.id, "ApiToken"),
            )
        )
        if isinstance(result, UserError):
            return RevokeApiTokenPayload(user_errors=[result])
        return RevokeApiTokenPayload(api_token=ApiToken.of(result))

    @strawberry.mutation
    async def issue_customer_token(
        self, info: Info, input: IssueCustomerTokenInput
    ) -> CustomerTokenPayload:
        result = await attempt(
            tokens.issue_customer_token(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.customer_id, "Customer"),
                input.ttl_seconds,
            )
        )
        if isinstance(result, UserError):
            return CustomerTokenPayload(user_errors=[result])
        return CustomerTokenPayload(token=result.token, expires_at=result.expires_at)

    @strawberry.mutation
    async def record_purchase(self, info: Info, input: RecordPurchaseInput) -> PurchasePayload:
        request = purchases.PurchaseRequest(
            program_id=ids.local_id(input.program_id, "Program"),
            customer_external_id=input.customer_external_id,
            order_id=input.order_id,
            amount=input.amount,
            occurred_at=input.occurred_at,
        )
        result = await attempt(
            purchases.record_purchase(info.context.runtime, info.context.principal, request)
        )
        return purchase_payload(result)

    @strawberry.mutation
    async def refund_purchase(self, info: Info, input: RefundPurchaseInput) -> PurchasePayload:
        result = await attempt(
            purchases.refund_purchase(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.program_id, "Program"),
                input.order_id,
                input.refund_id,
                input.amount,
            )
        )
        return purchase_payload(result)

    @strawberry.mutation
    async def settle_rewards(self, info: Info, input: SettleRewardsInput) -> SettleRewardsPayload:
        result = await attempt(
            purchases.settle_rewards(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.program_id, "Program"),
                input.as_of,
            )
        )
        if isinstance(result, UserError):
            return SettleRewardsPayload(user_errors=[result])
        count, amount = result
        return SettleRewardsPayload(approved_count=count, approved_amount=amount)

    @strawberry.mutation
    async def review_referral(self, info: Info, input: ReviewReferralInput) -> ReferralPayload:
        result = await attempt(
            reviews.review_referral(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.referral_id, "Referral"),
                input.decision.value,
                input.note,
            )
        )
        if isinstance(result, UserError):
            return ReferralPayload(user_errors=[result])
        return ReferralPayload(referral=Referral.of(result))

    @strawberry.mutation(
        description="Personal-data erasure: wipes name, e-mail, phone and device; keeps the tree "
        "and the ledger."
    )
    async def erase_customer(self, info: Info, input: EraseCustomerInput) -> CustomerPayload:
        result = await attempt(
            reviews.erase_customer(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.customer_id, "Customer"),
            )
        )
        if isinstance(result, UserError):
            return CustomerPayload(user_errors=[result])
        return CustomerPayload(customer=Customer.of(result))

    @strawberry.mutation(
        description="A webhook endpoint for a program (ADMIN or its PARTNER); the payload's "
        "secret is shown this once."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        draft = webhooks.EndpointDraft(
            url=input.url, event_types=input.event_types, description=input.description
        )
        result = await attempt(
            webhooks.create_endpoint(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.program_id, "Program"),
                draft,
            )
        )
        if isinstance(result, UserError):
            return WebhookEndpointPayload(user_errors=[result])
        endpoint, secret = result
        return WebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.of(endpoint), secret=secret)

    @strawberry.mutation(description="Change, disable or enable a webhook endpoint.")
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        draft = webhooks.EndpointDraft(
            url=input.url,
            event_types=input.event_types,
            description=input.description,
            enabled=input.enabled,
        )
        result = await attempt(
            webhooks.update_endpoint(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.id, "WebhookEndpoint"),
                draft,
            )
        )
        if isinstance(result, UserError):
            return WebhookEndpointPayload(user_errors=[result])
        return WebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.of(result))

    @strawberry.mutation(description="Delete a webhook endpoint and its delivery log.")
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        result = await attempt(
            webhooks.delete_endpoint(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.id, "WebhookEndpoint"),
            )
        )
        if isinstance(result, UserError):
            return DeleteWebhookEndpointPayload(user_errors=[result])
        return DeleteWebhookEndpointPayload(
            deleted_id=strawberry.ID(ids.to_global_id("WebhookEndpoint", result))
        )

    @strawberry.mutation(
        description="A new signing secret, shown this once; the old one keeps signing beside "
        "it (a second signature in webhook-signature) for 24 hours."
    )
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        result = await attempt(
            webhooks.rotate_secret(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.id, "WebhookEndpoint"),
            )
        )
        if isinstance(result, UserError):
            return WebhookEndpointPayload(user_errors=[result])
        endpoint, secret = result
        return WebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.of(endpoint), secret=secret)

    @strawberry.mutation(description="Send a webhook.test event to this endpoint only.")
    async def send_test_webhook_event(
        self, info: Info, input: SendTestWebhookEventInput
    ) -> SendTestWebhookEventPayload:
        result = await attempt(
            webhooks.send_test_event(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.endpoint_id, "WebhookEndpoint"),
            )
        )
        if isinstance(result, UserError):
            return SendTestWebhookEventPayload(user_errors=[result])
        return SendTestWebhookEventPayload(event=WebhookEvent.of(result))

    @strawberry.mutation(description="Send an event again now, with a fresh retry window.")
    async def redeliver_webhook_event(
        self, info: Info, input: RedeliverWebhookEventInput
    ) -> RedeliverWebhookEventPayload:
        endpoint_id: int | None = None
        if input.endpoint_id is not None:
            endpoint_id = ids.local_id(input.endpoint_id, "WebhookEndpoint")
            if endpoint_id is None:
                unknown = DomainError("NOT_FOUND", "no such webhook endpoint", "endpoint_id")
                return RedeliverWebhookEventPayload(user_errors=[UserError.of(unknown)])
        result = await attempt(
            webhooks.redeliver_event(
                info.context.runtime,
                info.context.principal,
                ids.local_id(input.event_id, "WebhookEvent"),
                endpoint_id,
            )
        )
        if isinstance(result, UserError):
            return RedeliverWebhookEventPayload(user_errors=[result])
        return RedeliverWebhookEventPayload(deliveries=[WebhookDelivery.of(d) for d in result])


def purchase_payload(result: PurchaseResult | UserError) -> PurchasePayload:
    """The payload of recordPurchase and refundPurchase."""
    if isinstance(result, UserError):
        return PurchasePayload(user_errors=[result])
    return PurchasePayload(
        purchase=Purchase.of(result.purchase), rewards=[Reward.of(r) for r in result.rewards]
    )
