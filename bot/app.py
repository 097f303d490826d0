"""The bot: composition root. Everything is built and wired here, in ``setup_hook``: one
frozen :class:`~bot.deps.Deps`, then every feature package (``bot.exts``) registers itself."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import discord
from discord.ext import commands

from bot.config import Settings
from bot.deps import Deps, FeatureBot
from bot.errors import report
from bot.exts import feature_names
from bot.fetch import Fetcher, FetchLimits
from bot.jobs.prompts import PromptChecks
from bot.jobs.references import ReferenceFetcher
from bot.jobs.runner import JobRunner
from bot.moderation import BannedWords
from bot.ui.routing import Routes
from db import ImageStore, Limits, disk_space, open_database
from db.faults import check_writable_folder
from engine import Engine
from engine.describe import DescribeConfig, Describer
from engine.loras import LoraLibrary
from engine.mimic.operation import describe_mimic
from engine.models import resolve_device
from engine.transfer import describe_backbone

__all__ = ["MjBot"]

log = logging.getLogger(__name__)


class MjBot(FeatureBot):
    """discord.py's bot, owning the database, the engine and the job runner."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        # No privileged intents: slash commands, buttons and reactions need none.
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options
        )
        self.settings = settings
        self.tree.error(report)

    async def setup_hook(self) -> None:
        self.deps = await self._build()
        # Buttons on every old message answer again; features register themselves.
        self.add_dynamic_items(*self.deps.routes.dynamic_items())
        for name in feature_names():
            await self.load_extension(name)
        await self._sync_commands()
        # Finish what the last run left.
        await self.deps.runner.recover()
        # What start-up imported and built lives as long as the process: out of the garbage
        # collector's reach, full collections stay milliseconds, not the 300 ms that stalled
        # acknowledgements (see engine.models.ModelRegistry.get).
        gc.freeze()
        log.info("ready to serve")

    async def _build(self) -> Deps:
        settings = self.settings
        # 1. Storage: checked (damage, locks, permissions), backed up and migrated before
        #    anything reads it; a low disk is said once, loudly.
        await asyncio.to_thread(check_writable_folder, settings.mj_data_dir)
        db = await open_database(settings.database_url)
        store = ImageStore(settings.mj_data_dir)
        await asyncio.to_thread(store.check)
        space = await asyncio.to_thread(disk_space, settings.mj_data_dir, settings.min_free_disk)
        if space.low:
            log.warning("low disk space for %s: %s", settings.mj_data_dir, space.describe())
        # 2. The engine loads its default model off the event loop (seconds to minutes).
        engine = Engine(settings.engine_config())
        if settings.gpu_urls:
            log.info("rendering on GPU workers at %s", ", ".join(settings.gpu_urls))
        log.info("%s", describe_backbone(settings.mj_vgg19 or None))
        log.info("%s", describe_mimic(settings.mj_mimicbrush or None))
        await engine.start()
        # 3. The job layer, and what features share.
        fetcher = Fetcher(FetchLimits(allow_hosts=frozenset(settings.mj_fetch_allow_hosts)))
        routes = Routes(on_error=report)
        runner = JobRunner(
            client=self,
            db=db,
            store=store,
            engine=engine,
            routes=routes,
            references=ReferenceFetcher(fetcher, store, self.http.get_from_cdn),
            limits=Limits(settings.mj_max_active_jobs, settings.mj_max_queued_jobs),
            progress_interval=settings.mj_progress_interval,
            max_attempts=settings.mj_max_attempts,
        )
        checks = PromptChecks(
            BannedWords.from_file(settings.mj_banned_words_file),
            engine.catalog,
            settings.mj_max_permutations,
            LoraLibrary(settings.lora_dir),
        )
        describer = Describer(
            DescribeConfig(
                caption_model=settings.mj_caption_model,
                clip_model=settings.mj_clip_model,
                device=resolve_device(settings.mj_device),
                cache_dir=settings.mj_data_dir / "models",
            )
        )
        return Deps(settings, self, db, store, engine, fetcher, describer, checks, routes, runner)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.modal_submit and hasattr(self, "deps"):
            await self.deps.routes.submit(interaction)

    async def _sync_commands(self) -> None:
        if self.settings.discord_guild_ids:
            for guild_id in self.settings.discord_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("commands synced to guilds %s", self.settings.discord_guild_ids)
        else:
            await self.tree.sync()
            log.info("commands synced globally (may take up to an hour to appear)")

    async def close(self) -> None:
        """Stop accepting, cancel what runs (it is requeued), then close everything."""
        deps: Deps | None = getattr(self, "deps", None)
        if deps is not None:
            await deps.runner.close()
            await deps.describer.close()
        await super().close()  # unloads the features (the region editor stops listening)
        if deps is not None:
            await deps.fetcher.close()
            await deps.db.close()
