"""Paying online: a debtor starts a hosted checkout for some or all of what they owe, and a paid
checkout becomes exactly one payment however Recoup hears of it: the debtor's return, the
provider's webhook, or reconciliation polling the open ones. The checkout's row is locked while it
is decided, and payments are unique by (source, reference) with the provider's payment id as the
reference: the last guard should two ever get past the lock."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import db
from core.errors import Conflict, RecoupError, ValidationError
from core.gateway import PAYMENT_EVENTS, SESSION_ID_PLACEHOLDER, CheckoutSession, GatewayError, PaymentGateway
from core.models import CHECKOUT_COMPLETIONS, OnlineCheckout, Payment
from core.money import AmountLike, Money, minor_unit, to_decimal
from core.roles import Actor
from core.services import audit, ledger
from core.services.customers import get_customer_row, require_work

log = logging.getLogger(__name__)
SESSION_PARAM = "checkout_session"  # the debtor comes back with ?checkout_session=<provider session id>
CANCELLED_PARAM = "checkout_cancelled"  # …or with ?checkout_cancelled=1 when they turned back
WEBHOOK_ACTOR = Actor.system_process("payment-webhook")


class Completion(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already recorded"
    NOT_PAID = "not paid"  # still open, or paid by a method that settles later
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # not a checkout Recoup started (for this customer)
    IGNORED = "ignored"  # a webhook about something else
    BUSY = "busy"  # another return, webhook or reconcile is deciding it right now (wait=False)


@dataclass(frozen=True)
class CheckoutOutcome:
    completion: Completion
    provider_session_id: str
    payment_id: int | None = None  # the one payment recorded for it, now or earlier
    amount: Money | None = None
    detail: str = ""  # for an ignored webhook, the event's type

    @property
    def recorded(self) -> bool:
        return self.completion in (Completion.RECORDED, Completion.ALREADY_RECORDED)


@dataclass(frozen=True)
class ReconcileCounts:
    recorded: int = 0
    already_recorded: int = 0
    expired: int = 0
    still_open: int = 0
    failed: int = 0  # the provider could not be asked
    first_error: str | None = None


def start_checkout(
    session: Session,
    actor: Actor,
    gateway: PaymentGateway,
    *,
    customer_id: int,
    currency: str,
    amount: AmountLike,
    return_url: str,
) -> str:
    """Open a hosted checkout for up to the customer's open balance in that currency and return the
    page to send the debtor to. They come back to return_url with SESSION_PARAM (or CANCELLED_PARAM)."""
    customer = get_customer_row(session, customer_id)
    require_work(session, actor, customer, "checkout.start")
    wanted = _amount(amount, currency)
    owed = ledger.owed(session, customer_id, wanted.currency)
    if wanted > owed:
        raise ValidationError(
            f"{wanted.format()} is more than the {owed.format()} open in {wanted.currency}; pay at most what is owed."
        )
    success_url, cancel_url = return_urls(return_url)
    started = gateway.create(
        customer_id, wanted, f"{customer.name} ({customer.external_ref}): payment on account", success_url, cancel_url
    )
    if not started.url or started.amount.currency != wanted.currency or started.amount != wanted:
        raise GatewayError(f"The payment page {started.session_id} did not come back as asked; please try again.")
    checkout = OnlineCheckout(
        provider=gateway.provider,
        provider_session_id=started.session_id,
        customer_id=customer_id,
        currency=wanted.currency,
        amount=wanted.amount,
        status="open",
        url=started.url,
    )
    session.add(checkout)
    session.flush()
    audit.record(session, actor, "checkout.start", "checkout_session", checkout.id, after=audit.snapshot(checkout))
    return started.url


def complete_checkout(
    session: Session,
    actor: Actor,
    gateway: PaymentGateway,
    provider_session_id: str,
    *,
    via: str,
    customer_id: int | None = None,
    wait: bool = True,
) -> CheckoutOutcome:
    """Ask the provider how a checkout stands; if paid, record its one payment (allocated by the
    normal rules). The actor must be one who may act on the account (the debtor on the portal, their
    collector, a system process). customer_id, from the portal: another customer's checkout is
    unknown to them. wait=False: if another caller is deciding this checkout, say BUSY at once
    rather than wait for it (a debtor's page, the batch)."""
    if via not in CHECKOUT_COMPLETIONS:
        raise ValueError(f"via must be one of {', '.join(CHECKOUT_COMPLETIONS)}, not {via!r}")
    mine = OnlineCheckout.provider == gateway.provider, OnlineCheckout.provider_session_id == provider_session_id
    checkout = session.scalar(
        select(OnlineCheckout)
        .where(*mine)
        .with_for_update(skip_locked=not wait)  # redirect, webhook and reconcile of one checkout take turns
        .execution_options(populate_existing=True)
    )
    if checkout is None and not wait and session.scalar(select(OnlineCheckout.customer_id).where(*mine)) is not None:
        return CheckoutOutcome(Completion.BUSY, provider_session_id)
    if checkout is None or customer_id not in (None, checkout.customer_id):
        return CheckoutOutcome(Completion.UNKNOWN, provider_session_id)
    require_work(session, actor, get_customer_row(session, checkout.customer_id), "checkout.complete")
    if checkout.status == "paid":
        return _already(session, checkout)
    if checkout.status == "expired":
        return CheckoutOutcome(Completion.EXPIRED, provider_session_id)
    found = gateway.retrieve(provider_session_id)
    if found.session_id != provider_session_id or found.customer_id != checkout.customer_id:
        log.error("checkout %s: the provider's session names customer %s", checkout.id, found.customer_id)
        raise GatewayError(f"The payment {provider_session_id} does not match Recoup's record; nothing was recorded.")
    if found.expired:
        _close(session, actor, checkout, "expired", via)
        return CheckoutOutcome(Completion.EXPIRED, provider_session_id)
    if not found.paid:
        return CheckoutOutcome(Completion.NOT_PAID, provider_session_id)
    payment_id, completion = _record_once(session, gateway.provider, checkout, found)
    _close(session, actor, checkout, "paid", via, payment_id=payment_id)
    return CheckoutOutcome(completion, provider_session_id, payment_id, found.amount)


def handle_webhook(session: Session, gateway: PaymentGateway, payload: bytes, signature_header: str) -> CheckoutOutcome:
    """A provider's webhook: verified (WebhookRefused if not), then a checkout paid is completed."""
    event = gateway.event_from_webhook(payload, signature_header)
    if event.kind not in PAYMENT_EVENTS or event.session_id is None:
        log.info("webhook %s (%s) ignored", event.event_id, event.kind)
        return CheckoutOutcome(Completion.IGNORED, event.session_id or "", detail=event.kind)
    # The session is read again from the provider rather than from the event: one way to decide.
    return complete_checkout(session, WEBHOOK_ACTOR, gateway, event.session_id, via="webhook")


RECONCILE_GIVES_UP_AFTER = 3  # failures in a row: the provider is down, the rest wait for the next run


def reconcile_open_sessions(actor: Actor, gateway: PaymentGateway) -> ReconcileCounts:
    """Ask the provider about every open checkout, each in a short transaction of its own (so a
    slow provider holds no lock on the others, and a debtor's return is never kept waiting):
    paid ones are recorded, expired ones closed. Checkouts a webhook or a return is deciding right
    now are left to it. Several failures in a row stop the round; the rest are asked next run."""
    with db.transaction() as session:
        open_ids = session.scalars(
            select(OnlineCheckout.provider_session_id)
            .where(OnlineCheckout.status == "open", OnlineCheckout.provider == gateway.provider)
            .order_by(OnlineCheckout.id)
        ).all()
    counts: Counter[str] = Counter()
    first_error: str | None = None
    in_a_row = 0
    for provider_session_id in open_ids:
        try:
            with db.transaction() as session:
                outcome = complete_checkout(session, actor, gateway, provider_session_id, via="reconcile", wait=False)
        except RecoupError as error:  # the provider's, or one checkout's own: the others go on
            counts["failed"] += 1
            first_error = first_error or str(error)
            in_a_row += 1
            if in_a_row >= RECONCILE_GIVES_UP_AFTER:
                counts["failed"] += len(open_ids) - sum(counts.values())
                break
            continue
        in_a_row = 0
        counts[outcome.completion.name.lower()] += 1
    return ReconcileCounts(
        recorded=counts["recorded"],
        already_recorded=counts["already_recorded"],
        expired=counts["expired"],
        still_open=counts["not_paid"] + counts["busy"],
        failed=counts["failed"],
        first_error=first_error,
    )


def return_urls(return_url: str) -> tuple[str, str]:
    """The success and cancel addresses: return_url with SESSION_PARAM (the provider fills in the
    session's id) or CANCELLED_PARAM added, and any earlier ones of those dropped."""
    parts = urlsplit(return_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"The return address must be a full http(s) address, not {return_url!r}.")
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in (SESSION_PARAM, CANCELLED_PARAM)
    ]

    def adding(extra: str) -> str:
        return urlunsplit(parts._replace(query="&".join(filter(None, (urlencode(kept), extra)))))

    # The placeholder goes in as it is: encoded, the provider would not recognise it.
    return adding(f"{SESSION_PARAM}={SESSION_ID_PLACEHOLDER}"), adding(f"{CANCELLED_PARAM}=1")


def _amount(amount: AmountLike, currency: str) -> Money:
    exact = to_decimal(amount)
    wanted = Money(exact, currency)
    if wanted.amount != exact:
        raise ValidationError(f"{wanted.currency} amounts have at most {minor_unit(wanted.currency)} decimals.")
    if wanted.amount <= 0:
        raise ValidationError("The amount to pay must be more than zero.")
    return wanted


def _record_once(
    session: Session, source: str, checkout: OnlineCheckout, found: CheckoutSession
) -> tuple[int, Completion]:
    """The payment for a paid checkout: recorded now, or the one already recorded for the provider's payment."""
    reference = found.payment_id or found.session_id
    # The provider's answer, not the caller, makes this money received: a debtor back from paying
    # may not record payments, but the provider's word on their checkout may, under its own name.
    recorder = Actor.system_process(source)
    if (existing := _payment_by_reference(session, source, reference)) is not None:
        return existing, Completion.ALREADY_RECORDED
    try:
        with session.begin_nested():
            result = ledger.record_payment(
                session,
                recorder,
                checkout.customer_id,
                amount=found.amount,
                received_on=date.today(),
                reference=reference,
                method="card",
                source=source,
            )
    except (IntegrityError, Conflict):
        # Recorded by another transaction between the look above and the insert (the unique index waited for it).
        if (existing := _payment_by_reference(session, source, reference)) is None:
            raise
        log.info("checkout %s: payment %s %s was recorded at the same moment", checkout.id, source, reference)
        return existing, Completion.ALREADY_RECORDED
    return result.payment_id, Completion.RECORDED


def _payment_by_reference(session: Session, source: str, reference: str) -> int | None:
    return session.scalar(select(Payment.id).where(Payment.source == source, Payment.reference == reference))


def _already(session: Session, checkout: OnlineCheckout) -> CheckoutOutcome:
    payment = session.get(Payment, checkout.payment_id)
    amount = Money(payment.amount, payment.currency) if payment is not None else None
    return CheckoutOutcome(Completion.ALREADY_RECORDED, checkout.provider_session_id, checkout.payment_id, amount)


def _close(
    session: Session, actor: Actor, checkout: OnlineCheckout, status: str, via: str, *, payment_id: int | None = None
) -> None:
    before = audit.snapshot(checkout)
    checkout.status, checkout.completed_via, checkout.payment_id = status, via, payment_id
    checkout.completed_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor,
        f"checkout.{status}",
        "checkout_session",
        checkout.id,
        before=before,
        after=audit.snapshot(checkout),
    )
