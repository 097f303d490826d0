"""The bot: composition root. Everything is built and wired here, in ``setup_hook``."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.blend import blend
from bot.buttons import JobButton
from bot.commands import imagine
from bot.controls import Reactions
from bot.controls_commands import info, show
from bot.describe import describe
from bot.fetch import Fetcher, FetchLimits
from bot.modals import on_modal_submit
from bot.moderation import BannedWords
from bot.prefer import MODE_COMMANDS, prefer
from bot.service import JobService
from bot.settings import Settings
from bot.settings_panel import SettingButton, VersionSelect
from bot.settings_panel import settings as settings_command
from bot.web.server import EditorServer
from bot.web.tokens import load_secret
from db import Database, ImageStore
from engine import Engine, EngineConfig
from engine.describe import DescribeConfig, Describer
from engine.models import resolve_device

__all__ = ["MjBot"]

log = logging.getLogger(__name__)


class MjBot(commands.Bot):
    """discord.py bot owning the database, the engine and the job service."""

    service: JobService

    def __init__(self, settings: Settings, **options: Any) -> None:
        # No privileged intents: slash commands, buttons and reactions need none.
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options
        )
        self.settings = settings
        self._db: Database | None = None
        self._fetcher: Fetcher | None = None

    async def setup_hook(self) -> None:
        settings = self.settings
        # 1. Storage: migrate the schema before anything reads it.
        settings.mj_data_dir.mkdir(parents=True, exist_ok=True)
        self._db = Database(settings.database_url)
        await self._db.migrate()
        # 2. The engine loads its default model off the event loop (seconds to minutes).
        engine = Engine(
            EngineConfig(
                models=settings.models,
                devices=(settings.mj_device,),
                cache_dir=settings.mj_data_dir / "models",
                single_file_config=settings.mj_model_config,
                steps=settings.mj_steps,
                ip_adapter=settings.mj_ip_adapter,
            )
        )
        await engine.start()
        self._fetcher = Fetcher(FetchLimits(allow_hosts=frozenset(settings.mj_fetch_allow_hosts)))
        self.service = JobService(
            self,
            settings,
            self._db,
            ImageStore(settings.mj_data_dir),
            engine,
            self._fetcher,
            BannedWords.from_file(settings.mj_banned_words_file),
            Describer(
                DescribeConfig(
                    caption_model=settings.mj_caption_model,
                    clip_model=settings.mj_clip_model,
                    device=resolve_device(settings.mj_device),
                    cache_dir=settings.mj_data_dir / "models",
                )
            ),
        )
        # 3. Buttons on every old message answer again; commands are (re)declared.
        self.add_dynamic_items(JobButton, SettingButton, VersionSelect)
        commands_: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [
            imagine,
            blend,
            describe,
            settings_command,
            prefer,
            *MODE_COMMANDS,
            info,
            show,
        ]
        for command in commands_:
            self.tree.add_command(command)
        await self._sync_commands()
        self.add_listener(Reactions(self.service).on_raw_reaction_add)  # ❌ and ✉️
        # 4. The region editor's web server (Vary (Region)); the bot works without it.
        await self._start_editor()
        # 5. Finish what the last run left.
        await self.service.recover()
        log.info("ready to serve")

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.modal_submit and hasattr(self, "service"):
            await on_modal_submit(interaction, self.service)

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

    async def _start_editor(self) -> None:
        settings = self.settings
        secret_value = settings.mj_secret.get_secret_value() if settings.mj_secret else None
        secret = load_secret(secret_value, settings.mj_data_dir)
        editor = EditorServer(self.service, secret, settings.mj_web_host, settings.mj_web_port)
        try:
            await editor.start()
        except OSError as error:
            log.error(
                "the region editor could not listen on %s:%d (%s); Vary (Region) is off. "
                "Set MJ_WEB_HOST/MJ_WEB_PORT.",
                settings.mj_web_host,
                settings.mj_web_port,
                error,
            )
            await editor.close()
            return
        self.service.editor = editor

    async def close(self) -> None:
        """Stop accepting, cancel what runs (it is requeued), then close everything."""
        if getattr(self, "service", None) is not None:
            if self.service.editor is not None:
                await self.service.editor.close()
            await self.service.close()
        if self._fetcher is not None:
            await self._fetcher.close()
        await super().close()
        if self._db is not None:
            await self._db.close()
