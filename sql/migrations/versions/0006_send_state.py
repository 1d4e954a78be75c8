"""send state: what a reminder's decision rests on, re-read in the statement that marks it sending;
the legal flag; addresses their owners asked us to stop using

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 17:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Everything the batch's decision about one customer and currency rests on, as one digest: the
# open invoices and what each still owes, the customer's flags (updated_at moves with every edit),
# the contacts and their opt-outs, pending promises, current plans, unmatched payments in that
# currency, payments, timeline entries, messages going out and addresses stopped. The batch reads
# it with the facts and again in the UPDATE that marks a send "sending": a different digest means
# something changed in between, and that send is re-read and decided on its own.
SEND_STATE = """
CREATE OR REPLACE FUNCTION recoup_send_state(p_customer integer, p_currency text) RETURNS text
LANGUAGE sql STABLE AS $$
SELECT md5(concat_ws('|',
    (SELECT string_agg(i.id || ':' || i.disputed || ':' || (i.amount - coalesce(
                (SELECT sum(a.amount) FROM allocations a WHERE a.invoice_id = i.id), 0)), ',' ORDER BY i.id)
       FROM invoices i WHERE i.customer_id = p_customer AND i.currency = p_currency AND i.status = 'open'),
    (SELECT c.updated_at::text FROM customers c WHERE c.id = p_customer),
    (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM contacts WHERE customer_id = p_customer),
    (SELECT string_agg(id || ':' || due_on, ',' ORDER BY id)
       FROM promises WHERE customer_id = p_customer AND status = 'pending'),
    (SELECT string_agg(id::text, ',' ORDER BY id)
       FROM payment_plans WHERE customer_id = p_customer AND status = 'current'),
    (SELECT max(id) FROM payments WHERE customer_id IS NULL AND currency = p_currency),
    -- count(*) beside max(): the planner then reads the customer's own rows by index, instead of
    -- walking the whole table backwards by id looking for them
    (SELECT count(*) || ':' || coalesce(max(id), 0) FROM payments WHERE customer_id = p_customer),
    (SELECT count(*) || ':' || coalesce(max(id), 0) FROM activities WHERE customer_id = p_customer),
    (SELECT count(*) FROM sends WHERE customer_id = p_customer AND status IN ('sending', 'sent')),
    (SELECT count(*) FROM address_opt_outs WHERE customer_id = p_customer)
))
$$
"""


def upgrade() -> None:
    # The legal handover stage flags the account: counsel takes over and reminders stop.
    op.add_column("customers", sa.Column("legal", sa.Boolean(), server_default="false", nullable=False))
    # Addresses their owners asked us to stop using: kept apart from contacts, so imports cannot undo them.
    op.create_table(
        "address_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_address_opt_outs_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_opt_outs")),
        sa.UniqueConstraint("address", name=op.f("uq_address_opt_outs_address")),
    )
    op.create_index(op.f("ix_address_opt_outs_customer_id"), "address_opt_outs", ["customer_id"], unique=False)
    op.execute(SEND_STATE)  # last: it reads the tables above
    # The digest's "unmatched payments in this currency" without scanning every unmatched payment.
    op.create_index(
        "ix_payments_unmatched", "payments", ["currency", "id"], postgresql_where="customer_id IS NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_address_opt_outs_customer_id"), table_name="address_opt_outs")
    op.drop_table("address_opt_outs")
    op.drop_column("customers", "legal")
    op.drop_index("ix_payments_unmatched", table_name="payments")
    op.execute("DROP FUNCTION IF EXISTS recoup_send_state(integer, text)")
