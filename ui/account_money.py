"""The account page's money: recording and reversing payments, applying or refunding credit, and
payment plans — agreeing or proposing one with its schedule previewed, deciding and cancelling."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core import db
from core.errors import RecoupError, ValidationError
from core.models import PAYMENT_METHODS, PLAN_FREQUENCIES
from core.roles import Actor
from core.services import dunning, ledger, payments, plans
from core.services.accounts import AccountView
from core.services.plans import PlanRequest, PlanView
from ui import fmt
from ui.account_actions import _currencies, _money, _run

FREQUENCY_LABELS = {"weekly": "Weekly", "biweekly": "Every two weeks", "monthly": "Monthly", "custom": "Custom dates"}
STATE_LABELS = {"paid": "✓ paid", "partial": "◐ partly paid", "missed": "✗ missed", "due": "due"}


def plans_list(actor: Actor, view: AccountView, account_plans: list[PlanView], *, may_manage: bool) -> None:
    """Every plan with its schedule: what each instalment was paid, and proposals to decide."""
    if not account_plans:
        st.caption("No payment plans.")
        return
    for plan in account_plans:
        st.markdown(
            f"**Plan #{plan.plan_id}** · {plan.status} since {plan.status_since:%d %b %Y} · "
            f"{fmt.money(plan.total)} ({fmt.money(plan.paid)} paid, {fmt.money(plan.left)} left) · "
            f"{FREQUENCY_LABELS[plan.frequency].lower()} · invoices {', '.join(plan.invoice_numbers)}"
        )
        st.caption(
            f"Set up by {plan.created_by}"
            + (f", approved by {plan.approved_by}" if plan.approved_by else "")
            + (f" · fee {fmt.money(plan.fee)}" if not plan.fee.is_zero() else "")
            + (f" · {plan.note}" if plan.note else "")
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Due": line.due_on,
                        "Amount": fmt.money(line.amount),
                        "Paid": fmt.money(line.paid),
                        "State": ("down payment · " if line.down_payment else "") + STATE_LABELS[line.state],
                    }
                    for line in plan.instalments
                ]
            ),
            hide_index=True,
            key=f"plan_schedule_{plan.plan_id}",
        )
        if plan.status == "proposed" and may_manage:
            _decide(actor, plan)


def _decide(actor: Actor, plan: PlanView) -> None:
    with st.form(f"decide_form_{plan.plan_id}"):
        reason = st.text_input("Reason (to reject)", key=f"decide_reason_{plan.plan_id}", max_chars=500)
        cols = st.columns(2)
        approve = cols[0].form_submit_button("Approve plan", key=f"decide_approve_{plan.plan_id}")
        reject = cols[1].form_submit_button("Reject plan", key=f"decide_reject_{plan.plan_id}")
    if approve or reject:
        _run(
            lambda s: plans.decide_proposal(
                s, actor, plan.plan_id, approve=bool(approve), reason=reason, version=plan.version
            ),
            f"Plan #{plan.plan_id} {'approved' if approve else 'rejected'}.",
        )


def record_payment(actor: Actor, view: AccountView, today: date) -> None:
    open_invoices = {i.id: i for i in view.invoices if i.status == "open"}
    with st.form("payment_form"):
        cols = st.columns(3)
        currency = cols[0].selectbox("Currency", _currencies(view), key="payment_currency")
        amount = cols[1].text_input("Amount", key="payment_amount")
        received_on = cols[2].date_input("Received on", value=today, max_value=today, key="payment_date")
        cols = st.columns(2)
        method = cols[0].selectbox(
            "Method", PAYMENT_METHODS, format_func=payments.METHOD_LABELS.get, key="payment_method"
        )
        reference = cols[1].text_input(
            "Reference (bank ref, receipt or cheque no.)", key="payment_reference", max_chars=200
        )
        chosen = st.multiselect(
            "Apply to (empty: a running plan's invoices first, then oldest due)",
            list(open_invoices),
            format_func=lambda i: f"{open_invoices[i].number} · {fmt.money(open_invoices[i].open)} open",
            key="payment_invoices",
        )
        submitted = st.form_submit_button("Record payment", key="payment_submit")
    if submitted:

        def record(session: object) -> None:
            result = ledger.record_payment(
                session,  # type: ignore[arg-type]
                actor,
                view.customer_id,
                amount=_money(amount, currency),
                received_on=received_on,
                reference=reference,
                method=method,
                invoice_ids=chosen or None,
            )
            st.session_state["payment_result"] = (
                "Applied: "
                + (
                    ", ".join(f"{fmt.money(m)} to invoice #{i}" for i, m in result.allocated.items())
                    or "nothing applied"
                )
                + (f"; {fmt.money(result.credit)} kept as credit" if not result.credit.is_zero() else "")
            )

        _run(record, "Payment recorded.")


def reverse_payment(actor: Actor, view: AccountView, today: date) -> None:
    live = {p.id: p for p in view.payments if p.reversed_on is None}
    if not live:
        st.caption("No payment to reverse.")
        return
    with st.form("reverse_form"):
        payment_id = st.selectbox(
            "Payment",
            list(live),
            format_func=lambda i: f"{live[i].received_on:%d %b %Y} · {live[i].reference} · {fmt.money(live[i].amount)}",
            key="reverse_payment",
        )
        reason = st.text_input("Why (bounced cheque, chargeback, refund…)", key="reverse_reason", max_chars=500)
        reversed_on = st.date_input("Reversed on", value=today, max_value=today, key="reverse_date")
        submitted = st.form_submit_button("Reverse payment", key="reverse_submit")
    if submitted:
        _run(
            lambda s: payments.reverse_payment(s, actor, payment_id, reason=reason, reversed_on=reversed_on),
            "Payment reversed: what it had paid is owed again.",
        )


def credit_actions(actor: Actor, view: AccountView, today: date) -> None:
    with db.transaction() as session:
        credit = payments.customer_credit(session, view.customer_id)
    if not credit:
        st.caption("No customer credit: overpayments appear here, to apply to later invoices or refund.")
        return
    st.markdown("Credit: " + ", ".join(fmt.money(m) for m in credit.values()))
    with st.form("credit_form"):
        cols = st.columns(2)
        currency = cols[0].selectbox("Currency", list(credit), key="credit_currency")
        action = cols[1].radio("Action", ["apply", "refund"], horizontal=True, key="credit_action")
        cols = st.columns(3)
        amount = cols[0].text_input("Refund amount", key="refund_amount")
        reference = cols[1].text_input("Refund reference", key="refund_reference", max_chars=200)
        reason = cols[2].text_input("Why", key="refund_reason", max_chars=500)
        submitted = st.form_submit_button("Apply or refund credit", key="credit_submit")
    if not submitted:
        return
    if action == "apply":
        _run(
            lambda s: payments.apply_credit(s, actor, view.customer_id, currency=currency),
            f"{currency} credit applied to open invoices.",
        )
    else:
        _run(
            lambda s: payments.refund_credit(
                s,
                actor,
                view.customer_id,
                amount=_money(amount, currency),
                refunded_on=today,
                reference=reference,
                reason=reason,
            ),
            f"{currency} credit refunded.",
        )


def plan_form(actor: Actor, view: AccountView, account_plans: list[PlanView], today: date, *, may_manage: bool) -> None:
    """Agree (a manager) or propose (a collector) a plan; the schedule is previewed before saving."""
    open_invoices = {i.id: i for i in view.invoices if i.status == "open" and not i.disputed}
    with st.form("plan_form"):
        cols = st.columns(3)
        currency = cols[0].selectbox("Currency", _currencies(view), key="plan_currency")
        count = cols[1].number_input("Instalments", min_value=1, max_value=120, value=3, step=1, key="plan_count")
        frequency = cols[2].selectbox(
            "Frequency", PLAN_FREQUENCIES, index=2, format_func=FREQUENCY_LABELS.get, key="plan_frequency"
        )
        cols = st.columns(3)
        first = cols[0].date_input(
            "First instalment", value=today + timedelta(days=7), min_value=today, key="plan_first"
        )
        down = cols[1].text_input("Down payment today (optional)", key="plan_down")
        with_fee = cols[2].checkbox("Add the plan fee (a setting)", key="plan_fee")
        chosen = st.multiselect(
            "Invoices (empty: everything open in this currency, not disputed)",
            list(open_invoices),
            format_func=lambda i: f"{open_invoices[i].number} · {fmt.money(open_invoices[i].open)}",
            key="plan_invoices",
        )
        custom = st.text_input("Custom dates (YYYY-MM-DD, comma separated)", key="plan_custom_dates")
        note = st.text_input("Plan note", key="plan_note", max_chars=500)
        cols = st.columns(2)
        preview = cols[0].form_submit_button("Preview schedule", key="plan_preview")
        save = cols[1].form_submit_button("Agree plan" if may_manage else "Propose plan", key="plan_submit")
    if not (preview or save):
        return
    try:
        request = PlanRequest(
            currency=currency,
            instalments=int(count),
            frequency=frequency,
            first_due_on=first,
            invoice_ids=tuple(chosen) if chosen else None,
            down_payment=_money(down, currency) if down.strip() else None,
            with_fee=with_fee,
            custom_dates=_dates(custom) if frequency == "custom" else (),
            note=note,
        )
    except RecoupError as error:
        st.error(str(error))
        return
    if preview:
        try:
            with db.transaction() as session:
                shown = plans.preview_plan(session, actor, view.customer_id, request, today=today)
        except RecoupError as error:
            st.error(str(error))
            return
        st.info(
            f"{fmt.money(shown.total)} ({fmt.money(shown.principal)} owed"
            + (f" + {fmt.money(shown.fee)} fee" if not shown.fee.is_zero() else "")
            + f") for invoices {', '.join(shown.invoice_numbers)}"
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {"Due": d.due_on, "Amount": fmt.money(d.amount), "": "down payment" if d.down_payment else ""}
                    for d in shown.schedule
                ]
            ),
            hide_index=True,
            key="plan_preview_table",
        )
        return
    verb = "agreed" if may_manage else "proposed for a manager's approval"
    _run(lambda s: plans.create_plan(s, actor, view.customer_id, request, today=today), f"Payment plan {verb}.")


def _dates(raw: str) -> tuple[date, ...]:
    try:
        return tuple(date.fromisoformat(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValidationError(f"{raw!r} is not a list of dates such as 2026-12-01, 2027-01-15.") from None


def cancel_plan(actor: Actor, account_plans: list[PlanView]) -> None:
    running = {p.plan_id: p for p in account_plans if p.status in ("proposed", "current", "late", "broken")}
    if not running:
        return
    with st.form("plan_cancel_form"):
        plan_id = st.selectbox(
            "Cancel a plan",
            list(running),
            format_func=lambda i: f"#{i} · {running[i].status} · {fmt.money(running[i].total)}",
            key="plan_cancel",
        )
        reason = st.text_input("Why", key="plan_cancel_reason", max_chars=500)
        submitted = st.form_submit_button("Cancel plan", key="plan_cancel_submit")
    if submitted:
        _run(
            lambda s: plans.cancel_plan(s, actor, plan_id, reason=reason, version=running[plan_id].version),
            f"Plan #{plan_id} cancelled: its invoices are chased again.",
        )


def reminder_settings(actor: Actor, view: AccountView) -> None:
    """Which reminder sequence this customer follows, or none at all."""
    with db.transaction() as session:
        names = dunning.sequence_names(session)
        current = dunning.customer_dunning(session, view.customer_id)
    options: list[int | None] = [None, *names]
    with st.form("dunning_form"):
        chosen = st.selectbox(
            "Reminder sequence",
            options,
            index=options.index(current[0]) if current[0] in options else 0,
            format_func=lambda i: "By the assignment rules" if i is None else names[i],
            key="dunning_sequence",
        )
        excluded = st.checkbox("No reminders for this customer", value=current[1], key="dunning_excluded")
        submitted = st.form_submit_button("Save reminder settings", key="dunning_submit")
    if submitted:
        _run(
            lambda s: dunning.set_customer_dunning(s, actor, view.customer_id, sequence_id=chosen, excluded=excluded),
            "Reminder settings saved.",
        )
