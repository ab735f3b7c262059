"""Reporting tasks (统计报表制度): tasks with form number, period, deadline and reporting units, and
the reminders (催报) sent to units that have not reported, and reviewers' comments per row of a
submission version, per-level approvals of multi-level review, and resumable (chunked) uploads. Only new tables are created.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``reporting_tasks`` and ``reporting_reminders``."""
    op.create_table(
        "reporting_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("form_no", sa.String(40), nullable=False),
        sa.Column("group", sa.String(40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("review_levels", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reporting_tasks_group", "reporting_tasks", ["group"])
    op.create_table(
        "reporting_reminders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("reporting_tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("status_at_reminder", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.String(80), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reporting_reminders_task_id", "reporting_reminders", ["task_id"])
    op.create_table(
        "review_comments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("submission_versions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("item", sa.String(80), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_comments_version_id", "review_comments", ["version_id"])
    op.create_table(
        "level_approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("submission_versions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("version_id", "level", name="uq_level_approval"),
    )
    op.create_index("ix_level_approvals_version_id", "level_approvals", ["version_id"])
    op.create_table(
        "upload_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "upload_chunks",
        sa.Column("session_id", sa.String(36), sa.ForeignKey("upload_sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop the six tables."""
    op.drop_index("ix_level_approvals_version_id", table_name="level_approvals")
    op.drop_table("level_approvals")
    op.drop_table("upload_chunks")
    op.drop_table("upload_sessions")
    op.drop_index("ix_review_comments_version_id", table_name="review_comments")
    op.drop_table("review_comments")
    op.drop_index("ix_reporting_reminders_task_id", table_name="reporting_reminders")
    op.drop_table("reporting_reminders")
    op.drop_index("ix_reporting_tasks_group", table_name="reporting_tasks")
    op.drop_table("reporting_tasks")
