"""invoice paid amount: what payments have covered of each invoice and the day the latest was
received, kept by the settlement trigger, and an index of unpaid invoices that aging reads alone

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Migration 0007's settlement, now also keeping paid_amount and last_paid_on. Aging as of a day on
# or after last_paid_on takes paid_amount as it is; only an invoice part-paid across that day
# still sums its allocations.
SETTLE = """
CREATE OR REPLACE FUNCTION recoup_settle_invoices(ids integer[]) RETURNS void
LANGUAGE sql AS $$
WITH targets AS (
    SELECT DISTINCT u.id FROM unnest(ids) AS u(id)
),
running AS (
    SELECT a.invoice_id, p.received_on, a.amount,
           sum(a.amount) OVER (PARTITION BY a.invoice_id ORDER BY p.received_on, a.id) AS covered
    FROM targets t
    JOIN allocations a ON a.invoice_id = t.id
    JOIN payments p ON p.id = a.payment_id
),
settlement AS (
    SELECT i.id,
           min(r.received_on) AS first_paid_on,
           min(r.received_on) FILTER (WHERE r.covered >= i.amount) AS settled_on,
           coalesce(sum(r.amount), 0) AS paid_amount,
           max(r.received_on) AS last_paid_on
    FROM targets t
    JOIN invoices i ON i.id = t.id
    LEFT JOIN running r ON r.invoice_id = t.id
    GROUP BY i.id
)
UPDATE invoices i
SET first_paid_on = s.first_paid_on, settled_on = s.settled_on,
    paid_amount = s.paid_amount, last_paid_on = s.last_paid_on
FROM settlement s
WHERE i.id = s.id
  AND (i.first_paid_on IS DISTINCT FROM s.first_paid_on OR i.settled_on IS DISTINCT FROM s.settled_on
       OR i.paid_amount <> s.paid_amount OR i.last_paid_on IS DISTINCT FROM s.last_paid_on)
$$;
"""

# Migration 0007's function, for the downgrade.
SETTLE_0007 = """
CREATE OR REPLACE FUNCTION recoup_settle_invoices(ids integer[]) RETURNS void
LANGUAGE sql AS $$
WITH targets AS (
    SELECT DISTINCT u.id FROM unnest(ids) AS u(id)
),
running AS (
    SELECT a.invoice_id, p.received_on,
           sum(a.amount) OVER (PARTITION BY a.invoice_id ORDER BY p.received_on, a.id) AS covered
    FROM targets t
    JOIN allocations a ON a.invoice_id = t.id
    JOIN payments p ON p.id = a.payment_id
),
settlement AS (
    SELECT i.id,
           min(r.received_on) AS first_paid_on,
           min(r.received_on) FILTER (WHERE r.covered >= i.amount) AS settled_on
    FROM targets t
    JOIN invoices i ON i.id = t.id
    LEFT JOIN running r ON r.invoice_id = t.id
    GROUP BY i.id
)
UPDATE invoices i
SET first_paid_on = s.first_paid_on, settled_on = s.settled_on
FROM settlement s
WHERE i.id = s.id
  AND (i.first_paid_on IS DISTINCT FROM s.first_paid_on OR i.settled_on IS DISTINCT FROM s.settled_on)
$$;
"""

UNSETTLED_WHERE = "settled_on IS NULL AND status IN ('open', 'paid')"


def upgrade() -> None:
    op.add_column("invoices", sa.Column("paid_amount", sa.Numeric(19, 4), server_default="0", nullable=False))
    op.add_column("invoices", sa.Column("last_paid_on", sa.Date(), nullable=True))
    op.execute(SETTLE)
    op.execute(
        "SELECT recoup_settle_invoices(ARRAY(SELECT DISTINCT invoice_id FROM allocations WHERE payment_id IS NOT NULL))"
    )
    op.create_index(
        "ix_invoices_unsettled",
        "invoices",
        ["customer_id", "currency"],
        postgresql_include=["id", "due_date", "issue_date", "amount", "paid_amount", "first_paid_on", "last_paid_on"],
        postgresql_where=sa.text(UNSETTLED_WHERE),
    )
    op.create_index("ix_invoices_settled_on", "invoices", ["settled_on"])


def downgrade() -> None:
    op.drop_index("ix_invoices_settled_on", table_name="invoices")
    op.drop_index("ix_invoices_unsettled", table_name="invoices")
    op.execute(SETTLE_0007)
    op.drop_column("invoices", "last_paid_on")
    op.drop_column("invoices", "paid_amount")
