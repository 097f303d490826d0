"""Persistence: users, jobs, images and lineage in SQLAlchemy (SQLite or PostgreSQL), image
files on disk, migrations and start-up recovery.

Imports nothing from ``parser``, ``engine``, ``bot`` or ``discord``. The database, not
memory, holds the truth: every button on every old message is answered from here.
"""

from db.database import Database, default_url
from db.errors import (
    IllegalTransitionError,
    ImageCorruptError,
    ImageMissingError,
    JobNotFoundError,
    QueueFullError,
    StorageError,
    TooManyOptionsError,
)
from db.jobs import Admission, Limits, NewImage, NewJob
from db.models import Image, Job, JobKind, JobMode, JobStatus, PreferOption, User, Variability
from db.recovery import RecoveryPlan, recover
from db.storage import ImageStore, StoredFile

__all__ = [
    "Admission",
    "Database",
    "IllegalTransitionError",
    "Image",
    "ImageCorruptError",
    "ImageMissingError",
    "ImageStore",
    "Job",
    "JobKind",
    "JobMode",
    "JobNotFoundError",
    "JobStatus",
    "Limits",
    "NewImage",
    "NewJob",
    "PreferOption",
    "QueueFullError",
    "RecoveryPlan",
    "StorageError",
    "StoredFile",
    "TooManyOptionsError",
    "User",
    "Variability",
    "default_url",
    "recover",
]
