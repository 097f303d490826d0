"""Initial schema: users, their options, jobs and images.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "mode",
            sa.Enum("fast", "relax", "turbo", name="jobmode", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("remix", sa.Boolean(), nullable=False),
        sa.Column(
            "variability",
            sa.Enum("high", "low", name="variability", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("default_version", sa.String(length=16), nullable=True),
        sa.Column("stylize", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Boolean(), nullable=False),
        sa.Column("suffix", sa.Text(), nullable=False),
        sa.Column("gpu_seconds_fast", sa.Float(), nullable=False),
        sa.Column("gpu_seconds_relax", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "imagine",
                "reroll",
                "variation",
                "upscale",
                "region",
                "outpaint",
                "blend",
                "describe",
                name="jobkind",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="jobstatus",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("raw_prompt", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("seeds", sa.JSON(), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("fast", "relax", "turbo", name="jobmode", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("parent_job_id", sa.String(length=36), nullable=True),
        sa.Column("parent_index", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gpu_seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("result_message_id", sa.BigInteger(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["parent_job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_parent", ["parent_job_id"], unique=False)
        batch_op.create_index("ix_jobs_progress_message", ["progress_message_id"], unique=False)
        batch_op.create_index("ix_jobs_result_message", ["result_message_id"], unique=False)
        batch_op.create_index("ix_jobs_status", ["status"], unique=False)
        batch_op.create_index("ix_jobs_user_status", ["user_id", "status"], unique=False)

    op.create_table(
        "prefer_options",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "name"),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "index", name="uq_images_job_index"),
    )


def downgrade() -> None:
    op.drop_table("images")
    op.drop_table("prefer_options")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_user_status")
        batch_op.drop_index("ix_jobs_status")
        batch_op.drop_index("ix_jobs_result_message")
        batch_op.drop_index("ix_jobs_progress_message")
        batch_op.drop_index("ix_jobs_parent")

    op.drop_table("jobs")
    op.drop_table("users")
