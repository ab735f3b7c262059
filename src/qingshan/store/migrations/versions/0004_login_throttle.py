"""Login throttling: one row per failed login, counted per (account, IP) and per IP.

The counters replace the per-username lockout read from the audit log, which let anyone lock any
account; the audit log still records every failure. Only a new table is created.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``login_failures``."""
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_login_failures_user_ip_at", "login_failures", ["username", "ip", "at"])
    op.create_index("ix_login_failures_ip_at", "login_failures", ["ip", "at"])


def downgrade() -> None:
    """Drop ``login_failures``."""
    op.drop_index("ix_login_failures_ip_at", table_name="login_failures")
    op.drop_index("ix_login_failures_user_ip_at", table_name="login_failures")
    op.drop_table("login_failures")
