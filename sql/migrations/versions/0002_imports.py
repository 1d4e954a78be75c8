"""imports: mapping profiles, how each payment was matched, the payer ref a file gave

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:15:34.589310
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('customers', 'invoices', 'payments')", name=op.f('ck_import_mappings_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_mappings')),
    sa.UniqueConstraint('name', name=op.f('uq_import_mappings_name'))
    )
    op.add_column('payments', sa.Column('matched_by', sa.String(length=32), nullable=True))
    op.add_column('payments', sa.Column('payer_ref', sa.String(length=100), nullable=True))
    op.create_check_constraint(
        op.f('ck_payments_matched_by'),
        'payments',
        "matched_by IS NULL OR matched_by IN "
        "('invoice_number', 'exact_amount', 'oldest_first', 'chosen', 'settled_in_file')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_payments_matched_by'), 'payments', type_='check')
    op.drop_column('payments', 'payer_ref')
    op.drop_column('payments', 'matched_by')
    op.drop_table('import_mappings')
