"""postal code: a customer's postal code, imported with the customer; the portal may ask for it
before showing anything

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 21:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("postal_code", sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "postal_code")
