"""Results: drop ``ix_results_run_id``, which ``ix_results_run_region_year`` (``run_id, region_code, year``)
makes redundant — every query by run, and the ``ON DELETE CASCADE`` of a run's rows, can use the composite
index's leading column. One index fewer to maintain makes storing a run's result rows about a fifth faster
(issue 11, ``qingshan revalue``).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the single-column index on ``results.run_id``."""
    op.drop_index("ix_results_run_id", table_name="results")


def downgrade() -> None:
    """Create it again."""
    op.create_index("ix_results_run_id", "results", ["run_id"])
