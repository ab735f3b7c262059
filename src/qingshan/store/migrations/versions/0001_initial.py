"""Initial schema: runs, results, run_regions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables of the results store."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("profile", sa.String(100), nullable=False),
        sa.Column("years", sa.JSON(), nullable=False),
        sa.Column("base_year", sa.Integer(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("output_dir", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("code_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(60), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("component", sa.String(80), nullable=False),
        sa.Column("ecosystem", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("price_unit", sa.String(40), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("value_comparable", sa.Float(), nullable=True),
    )
    op.create_index("ix_results_run_region_year", "results", ["run_id", "region_code", "year"])
    op.create_table(
        "run_regions",
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("parent", sa.String(12), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("run_regions")
    op.drop_index("ix_results_run_region_year", table_name="results")
    op.drop_table("results")
    op.drop_table("runs")
