"""aging snapshot: each customer's aging buckets per currency as of a few days (today and the last
month end), rebuilt daily and kept current by the services, so the Reports page reads them
without summing a book.
No foreign key to customers: checking one would lock the customer row while the rebuild holds
its table lock, the reverse of a payment's order (a deadlock); building a day drops its stale rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aging_snapshot",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("definition", sa.String(length=32), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_aging_snapshot")),
    )
    amount = sa.Numeric(precision=19, scale=4)
    op.create_table(
        "aging_balances",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("current_amount", amount, nullable=False),
        sa.Column("due_1_30", amount, nullable=False),
        sa.Column("due_31_60", amount, nullable=False),
        sa.Column("due_61_90", amount, nullable=False),
        sa.Column("due_91_180", amount, nullable=False),
        sa.Column("due_over_180", amount, nullable=False),
        sa.Column("total", amount, nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("overdue_invoices", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "customer_id", "currency", name=op.f("pk_aging_balances")),
    )


def downgrade() -> None:
    op.drop_table("aging_balances")
    op.drop_table("aging_snapshot")
