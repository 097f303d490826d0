"""Users, their settings, their ``/prefer option`` macros and GPU time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import writes
from db.errors import TooManyOptionsError
from db.models import JobMode, PreferOption, User

__all__ = [
    "MAX_OPTIONS",
    "SETTINGS",
    "add_gpu_seconds",
    "get_or_create_user",
    "list_options",
    "lock_user",
    "set_option",
    "update_user",
]

MAX_OPTIONS = 20
SETTINGS = frozenset(
    {"mode", "remix", "variability", "default_version", "stylize", "raw", "suffix"}
)


async def get_or_create_user(session: AsyncSession, user_id: int) -> User:
    """The user row, inserted with default settings on first sight (race-free)."""
    return await session.run_sync(writes.get_or_create_user, user_id)


async def lock_user(session: AsyncSession, user_id: int) -> User:
    """The user row, locked until the transaction ends (PostgreSQL; SQLite's transactions
    already hold the database's write lock), so per-user checks and writes are atomic."""
    return await session.run_sync(writes.lock_user, user_id)


async def update_user(session: AsyncSession, user_id: int, **changes: Any) -> User:
    unknown = set(changes) - SETTINGS
    if unknown:
        raise ValueError(f"not user settings: {', '.join(sorted(unknown))}")
    user = await get_or_create_user(session, user_id)
    for name, value in changes.items():
        setattr(user, name, value)
    return user


async def set_option(session: AsyncSession, user_id: int, name: str, value: str) -> None:
    """Create or replace ``--name``; an empty ``value`` deletes it. At most 20 per user."""
    await lock_user(session, user_id)
    existing = await session.get(PreferOption, (user_id, name))
    if not value.strip():
        if existing is not None:
            await session.delete(existing)
        return
    if existing is not None:
        existing.value = value
        return
    count = await session.scalar(
        select(func.count()).select_from(PreferOption).where(PreferOption.user_id == user_id)
    )
    if (count or 0) >= MAX_OPTIONS:
        raise TooManyOptionsError(f"you already have {MAX_OPTIONS} options; delete one first")
    session.add(PreferOption(user_id=user_id, name=name, value=value))


async def list_options(session: AsyncSession, user_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(PreferOption.name, PreferOption.value)
        .where(PreferOption.user_id == user_id)
        .order_by(PreferOption.name)
    )
    return dict(rows.all())


async def add_gpu_seconds(
    session: AsyncSession, user_id: int, mode: JobMode, seconds: float
) -> None:
    await session.run_sync(writes.add_gpu_seconds, user_id, mode, seconds)
