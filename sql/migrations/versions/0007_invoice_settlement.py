"""invoice settlement: each invoice's first payment day and the day it was paid in full, kept by a
trigger on allocations, so reports as of a date read only what was still open then

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 18:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# For the invoices a statement touched: the first day a payment was received for it, and the day
# the payment that completed it was received (running total of payment allocations in date
# order). Credit notes and write-offs are not payments and do not settle an invoice here, as in
# sql/reports/invoice_settlement.sql. Statement-level with transition tables: an import that
# writes 600,000 allocations runs it once.
SETTLE = """
CREATE OR REPLACE FUNCTION recoup_settle_invoices(ids integer[]) RETURNS void
LANGUAGE sql AS $$
-- Set-based (joins on the ids, one window over their allocations): an import's 600,000 invoices
-- cost one pass, not a lookup per invoice. Only rows that change are written: an UPDATE on
-- invoices fires invoices_settle_amount, which looks for changed amounts (none here) and stops.
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

CREATE OR REPLACE FUNCTION recoup_allocations_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM recoup_settle_invoices(ARRAY(SELECT DISTINCT invoice_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM recoup_settle_invoices(ARRAY(SELECT DISTINCT invoice_id FROM old_rows));
    ELSE
        PERFORM recoup_settle_invoices(
            ARRAY(SELECT invoice_id FROM new_rows UNION SELECT invoice_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER allocations_settle_insert AFTER INSERT ON allocations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recoup_allocations_changed();
CREATE TRIGGER allocations_settle_delete AFTER DELETE ON allocations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION recoup_allocations_changed();
CREATE TRIGGER allocations_settle_update AFTER UPDATE ON allocations
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_allocations_changed();

-- An invoice's amount changing (a corrected import) can move the day it was paid in full.
CREATE OR REPLACE FUNCTION recoup_invoice_amount_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed integer[];
BEGIN
    IF pg_trigger_depth() > 1 THEN  -- the settlement's own update of invoices
        RETURN NULL;
    END IF;
    changed := ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.amount <> o.amount);
    IF cardinality(changed) > 0 THEN
        PERFORM recoup_settle_invoices(changed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invoices_settle_amount AFTER UPDATE ON invoices
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_invoice_amount_changed();
"""

# A payment's received date changing moves its invoices' days too.
PAYMENT_DATE = """
CREATE OR REPLACE FUNCTION recoup_payment_date_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM recoup_settle_invoices(ARRAY(
        SELECT DISTINCT a.invoice_id FROM allocations a
        JOIN new_rows n ON n.id = a.payment_id JOIN old_rows o ON o.id = n.id
        WHERE n.received_on <> o.received_on));
    RETURN NULL;
END
$$;

CREATE TRIGGER payments_settle_date AFTER UPDATE ON payments
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recoup_payment_date_changed();
"""


def upgrade() -> None:
    op.add_column("invoices", sa.Column("first_paid_on", sa.Date(), nullable=True))
    op.add_column("invoices", sa.Column("settled_on", sa.Date(), nullable=True))
    op.execute(SETTLE)
    op.execute(PAYMENT_DATE)
    op.execute(
        "SELECT recoup_settle_invoices(ARRAY(SELECT DISTINCT invoice_id FROM allocations WHERE payment_id IS NOT NULL))"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS payments_settle_date ON payments")
    op.execute("DROP TRIGGER IF EXISTS invoices_settle_amount ON invoices")
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS allocations_settle_{event} ON allocations")
    op.execute("DROP FUNCTION IF EXISTS recoup_payment_date_changed()")
    op.execute("DROP FUNCTION IF EXISTS recoup_invoice_amount_changed()")
    op.execute("DROP FUNCTION IF EXISTS recoup_allocations_changed()")
    op.execute("DROP FUNCTION IF EXISTS recoup_settle_invoices(integer[])")
    op.drop_column("invoices", "settled_on")
    op.drop_column("invoices", "first_paid_on")
