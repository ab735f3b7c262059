"""Data catalogue (数据目录), accountings assembled from it, API tokens, and users' departments.

New tables ``catalog_entries``, ``catalog_versions``, ``catalog_assemblies``, ``api_tokens``; one new
column ``users.department`` (with a server default, so no batch operation is needed on SQLite).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"  # revalue's 0005 (runs.parent_run_id) is merged first
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the catalogue and token tables; add ``users.department``."""
    op.add_column("users", sa.Column("department", sa.String(80), nullable=False, server_default=""))
    op.create_table(
        "catalog_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False, index=True),
        sa.Column("variable", sa.String(60), nullable=True),
        sa.Column("title_zh", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300), nullable=False),
        sa.Column("department", sa.String(80), nullable=False, index=True),
        sa.Column("region", sa.String(20), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(80), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.String(300), nullable=False),
        sa.Column("crs", sa.String(120), nullable=True),
        sa.Column("resolution", sa.String(80), nullable=True),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "catalog_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("catalog_entries.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("upload_id", sa.String(36), sa.ForeignKey("uploads.id"), nullable=True),
        sa.Column("submission_version_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        _ts("created_at"),
        sa.Column("approved_by", sa.String(80), nullable=True),
        _ts("approved_at", nullable=True),
        sa.UniqueConstraint("entry_id", "version", name="uq_catalog_version"),
    )
    op.create_table(
        "catalog_assemblies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("department", sa.String(80), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(80), nullable=True),
        _ts("last_used_at", nullable=True),
    )


def downgrade() -> None:
    """Drop the catalogue and token tables and ``users.department``."""
    op.drop_table("api_tokens")
    op.drop_table("catalog_assemblies")
    op.drop_table("catalog_versions")
    op.drop_table("catalog_entries")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("department")
