"""online payments: the debtor's hosted checkout sessions (Stripe Checkout), each paid one pointing to
the one payment recorded for it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_session_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_via", sa.String(length=16), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'paid', 'expired')", name=op.f("ck_checkout_sessions_status")),
        sa.CheckConstraint(
            "completed_via IS NULL OR completed_via IN ('redirect', 'webhook', 'reconcile')",
            name=op.f("ck_checkout_sessions_completed_via"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_checkout_sessions_amount_positive")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_checkout_sessions_currency_iso")),
        sa.CheckConstraint(
            "(status = 'open') = (completed_at IS NULL)", name=op.f("ck_checkout_sessions_completed_when_closed")
        ),
        sa.CheckConstraint(
            "(completed_at IS NULL) = (completed_via IS NULL)", name=op.f("ck_checkout_sessions_completed_together")
        ),
        sa.CheckConstraint(
            "(status = 'paid') = (payment_id IS NOT NULL)", name=op.f("ck_checkout_sessions_paid_has_payment")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_checkout_sessions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_checkout_sessions_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_sessions")),
        sa.UniqueConstraint("provider_session_id", name=op.f("uq_checkout_sessions_provider_session_id")),
    )
    op.create_index(op.f("ix_checkout_sessions_customer_id"), "checkout_sessions", ["customer_id"], unique=False)
    op.create_index(op.f("ix_checkout_sessions_payment_id"), "checkout_sessions", ["payment_id"], unique=False)
    op.create_index(
        "ix_checkout_sessions_open", "checkout_sessions", ["id"], unique=False, postgresql_where="status = 'open'"
    )


def downgrade() -> None:
    op.drop_index("ix_checkout_sessions_open", table_name="checkout_sessions")
    op.drop_index(op.f("ix_checkout_sessions_payment_id"), table_name="checkout_sessions")
    op.drop_index(op.f("ix_checkout_sessions_customer_id"), table_name="checkout_sessions")
    op.drop_table("checkout_sessions")
