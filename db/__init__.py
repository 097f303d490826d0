"""Persistence: users, jobs, images and lineage in SQLAlchemy (SQLite or PostgreSQL), image
files on disk, migrations and start-up recovery.

Imports nothing from ``parser``, ``engine``, ``bot`` or ``discord``. The database, not
memory, holds the truth: every button on every old message is answered from here.
"""

from db.backup import backup_sqlite, backups_of
from db.database import Database, default_url, sqlite_path
from db.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DiskFullError,
    IllegalTransitionError,
    ImageCorruptError,
    ImageMissingError,
    JobNotFoundError,
    NotWritableError,
    QueueFullError,
    SchemaTooNewError,
    StartupError,
    StorageError,
    StorageFaultError,
    TooManyOptionsError,
)
from db.faults import DiskSpace, disk_space
from db.jobs import Admission, Limits, NewImage, NewJob
from db.models import (
    Image,
    Job,
    JobKind,
    JobMode,
    JobStatus,
    Portrait,
    PreferOption,
    User,
    Variability,
)
from db.recovery import RecoveryPlan, recover
from db.startup import open_database
from db.storage import ImageStore, StoredFile

__all__ = [
    "Admission",
    "Database",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DiskFullError",
    "DiskSpace",
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
    "NotWritableError",
    "Portrait",
    "PreferOption",
    "QueueFullError",
    "RecoveryPlan",
    "SchemaTooNewError",
    "StartupError",
    "StorageError",
    "StorageFaultError",
    "StoredFile",
    "TooManyOptionsError",
    "User",
    "Variability",
    "backup_sqlite",
    "backups_of",
    "default_url",
    "disk_space",
    "open_database",
    "recover",
    "sqlite_path",
]
