"""portal: each customer's portal-link generation (revoking moves it on) and the failed attempts
to open a link, by client address, for rate limiting

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 21:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("portal_generation", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "portal_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_attempts")),
    )
    op.create_index("ix_portal_attempts_client_at", "portal_attempts", ["client", "at"])


def downgrade() -> None:
    op.drop_index("ix_portal_attempts_client_at", table_name="portal_attempts")
    op.drop_table("portal_attempts")
    op.drop_column("customers", "portal_generation")
