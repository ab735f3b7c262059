"""Revaluation: ``runs.parent_run_id``, the run a revalued run was derived from (``qingshan revalue``).

A plain indexed column, no foreign key: runs are immutable and never deleted one by one, and a plain
``ALTER TABLE … ADD COLUMN`` works the same on SQLite and PostgreSQL.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``runs.parent_run_id`` and its index."""
    op.add_column("runs", sa.Column("parent_run_id", sa.String(36), nullable=True))
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_runs_parent_run_id", table_name="runs")
    op.drop_column("runs", "parent_run_id")
