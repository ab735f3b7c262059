"""Run artifacts and leases: ``runs.artifacts_dir`` (relative to the data dir), ``runs.artifacts``
(manifest: name, size, SHA-256), ``runs.lease_holder`` (host:pid) and ``runs.lease_expires_at``;
``jobs.lease_expires_at`` (the worker's lease on a running job).

Columns are added and dropped with plain ``ALTER TABLE`` on both backends (SQLite ≥ 3.35 drops
columns in place; no table copy, so no cascade on the result rows).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("artifacts_dir", "artifacts", "lease_holder", "lease_expires_at")


def upgrade() -> None:
    """Add the artifact and lease columns of ``runs``."""
    op.add_column("runs", sa.Column("artifacts_dir", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("artifacts", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("lease_holder", sa.String(120), nullable=True))
    op.add_column("runs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    op.drop_column("jobs", "lease_expires_at")
    for name in reversed(_COLUMNS):
        op.drop_column("runs", name)
