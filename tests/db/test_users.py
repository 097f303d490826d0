"""Users: settings, /prefer options (at most 20), GPU time by mode."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from db import Database, JobMode, TooManyOptionsError, User, Variability
from db import users as repo


async def test_user_defaults_and_settings(database: Database) -> None:
    async with database.session() as session:
        user = await repo.get_or_create_user(session, 5)
        assert (user.mode, user.remix, user.variability) == (JobMode.FAST, False, Variability.HIGH)
        await repo.update_user(session, 5, mode=JobMode.RELAX, remix=True, suffix="--ar 2:3")
    async with database.session() as session:
        again = await session.get(User, 5)
        assert again is not None
        assert (again.mode, again.remix, again.suffix) == (JobMode.RELAX, True, "--ar 2:3")
        with pytest.raises(ValueError, match="not user settings"):
            await repo.update_user(session, 5, gpu_seconds_fast=0)


async def test_concurrent_first_sight_creates_one_user(database: Database) -> None:
    async def touch() -> tuple[int, JobMode]:
        async with database.session() as session:
            user = await repo.get_or_create_user(session, 77)
            return user.id, user.mode

    seen = await asyncio.gather(*(touch() for _ in range(10)))
    assert seen == [(77, JobMode.FAST)] * 10  # every caller got the one row, defaults set
    async with database.session() as session:
        users = (await session.execute(select(User.id))).scalars().all()
    assert users == [77]  # exactly one user was stored: not zero, not one per caller


async def test_options_set_replace_delete_and_limit(database: Database) -> None:
    async with database.session() as session:
        for i in range(repo.MAX_OPTIONS):
            await repo.set_option(session, 1, f"opt{i:02}", f"--s {i}")
        await repo.set_option(session, 1, "opt00", "--tile")  # replacing is fine at the limit
        with pytest.raises(TooManyOptionsError):
            await repo.set_option(session, 1, "one-more", "--q 2")
    async with database.session() as session:
        await repo.set_option(session, 1, "opt01", "")  # deletes
        await repo.set_option(session, 1, "never-set", "  ")  # deleting nothing is fine
        options = await repo.list_options(session, 1)
    assert len(options) == repo.MAX_OPTIONS - 1
    assert options["opt00"] == "--tile"
    assert "opt01" not in options


async def test_gpu_seconds_by_mode(database: Database) -> None:
    async with database.session() as session:
        await repo.add_gpu_seconds(session, 2, JobMode.FAST, 5)
        await repo.add_gpu_seconds(session, 2, JobMode.RELAX, 7)
        await repo.add_gpu_seconds(session, 2, JobMode.TURBO, 1)
        user = await session.get(User, 2)
    assert user is not None
    assert (user.gpu_seconds_fast, user.gpu_seconds_relax) == (7, 7)
