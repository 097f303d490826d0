"""What every feature is given: one frozen set of the bot's parts, built once in ``bot.app``."""

from __future__ import annotations

from dataclasses import dataclass

import discord
from discord.ext import commands

from bot.config import Settings
from bot.fetch import Fetcher
from bot.jobs.prompts import PromptChecks
from bot.jobs.runner import JobRunner
from bot.ui.routing import Routes
from db import Database, ImageStore
from engine import Engine
from engine.describe import Describer

__all__ = ["Deps", "FeatureBot"]


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    client: discord.Client
    db: Database
    store: ImageStore
    engine: Engine
    fetcher: Fetcher
    describer: Describer
    checks: PromptChecks
    routes: Routes
    runner: JobRunner


class FeatureBot(commands.Bot):
    """The bot as a feature's ``setup(bot)`` sees it: discord.py's bot with :class:`Deps`."""

    deps: Deps
