"""invoice credits: what credit notes have taken off each invoice and the day the latest was made,
kept by the settlement trigger, so aging and the dashboard stop counting a credited amount as owed

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Migration 0009's settlement, now also keeping credited_amount and last_credited_on (credit
# notes only: a write-off closes the invoice, which every report then leaves out). settled_on and
# the paid columns stay about payments: a credit note is no longer owed, but it is not paid.
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
credited AS (
    SELECT a.invoice_id, sum(a.amount) AS amount, max(d.made_on) AS last_on
    FROM targets t
    JOIN allocations a ON a.invoice_id = t.id
    JOIN adjustments d ON d.id = a.adjustment_id
    WHERE d.kind = 'credit_note'
    GROUP BY a.invoice_id
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
    paid_amount = s.paid_amount, last_paid_on = s.last_paid_on,
    credited_amount = coalesce(c.amount, 0), last_credited_on = c.last_on
FROM settlement s
LEFT JOIN credited c ON c.invoice_id = s.id
WHERE i.id = s.id
  AND (i.first_paid_on IS DISTINCT FROM s.first_paid_on OR i.settled_on IS DISTINCT FROM s.settled_on
       OR i.paid_amount <> s.paid_amount OR i.last_paid_on IS DISTINCT FROM s.last_paid_on
       OR i.credited_amount <> coalesce(c.amount, 0) OR i.last_credited_on IS DISTINCT FROM c.last_on)
$$;
"""

# Migration 0009's function, for the downgrade.
SETTLE_0009 = """
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

# A credit note's day or kind corrected by hand moves what its invoices owe and when, as a
# payment's received day does (migration 0007's payments_settle_date).
ADJUSTMENT_CHANGED = """
CREATE OR REPLACE FUNCTION recoup_adjustment_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM recoup_settle_invoices(ARRAY(
        SELECT DISTINCT a.invoice_id FROM allocations a
        JOIN new_rows n ON n.id = a.adjustment_id JOIN old_rows o ON o.id = n.id
        WHERE n.made_on <> o.made_on OR n.kind <> o.kind));
    RETURN NULL;
END
$$;

CREATE TRIGGER adjustments_settle_change AFTER UPDATE ON adjustments
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_adjustment_changed();
"""

UNSETTLED_WHERE = "settled_on IS NULL AND status IN ('open', 'paid')"
PAID = ["id", "due_date", "issue_date", "amount", "paid_amount", "first_paid_on", "last_paid_on"]


def _unsettled_index(include: list[str]) -> None:
    op.drop_index("ix_invoices_unsettled", table_name="invoices")
    op.create_index(
        "ix_invoices_unsettled",
        "invoices",
        ["customer_id", "currency"],
        postgresql_include=include,
        postgresql_where=sa.text(UNSETTLED_WHERE),
    )


def upgrade() -> None:
    op.add_column("invoices", sa.Column("credited_amount", sa.Numeric(19, 4), server_default="0", nullable=False))
    op.add_column("invoices", sa.Column("last_credited_on", sa.Date(), nullable=True))
    op.execute(SETTLE)
    op.execute(
        "SELECT recoup_settle_invoices(ARRAY("
        "SELECT DISTINCT a.invoice_id FROM allocations a JOIN adjustments d ON d.id = a.adjustment_id"
        " WHERE d.kind = 'credit_note'))"
    )
    _unsettled_index([*PAID, "credited_amount", "last_credited_on"])
    op.execute(ADJUSTMENT_CHANGED)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS adjustments_settle_change ON adjustments")
    op.execute("DROP FUNCTION IF EXISTS recoup_adjustment_changed()")
    _unsettled_index(PAID)
    op.execute(SETTLE_0009)
    op.drop_column("invoices", "last_credited_on")
    op.drop_column("invoices", "credited_amount")
