"""``mjbot serve``: configure, point discord.py at the configured API, run until signalled."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["run_serve"]

log = logging.getLogger(__name__)


def run_serve(*, local: bool = False) -> int:
    """Run the bot until SIGINT/SIGTERM: on Discord with ``DISCORD_TOKEN``, otherwise (or with
    ``local``) on the local playground, which is started here."""
    from bot.config import SettingsError, describe_builtin, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.mj_log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    builtin = describe_builtin(settings.mj_model)
    if builtin is not None:  # plainly, once, where an admin looks first
        log.warning("%s", builtin)
    from db import StorageError
    from db.faults import check_writable_folder

    try:  # before anything is written there (the playground's world, the database)
        check_writable_folder(settings.mj_data_dir)
    except StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _quiet_libraries()
    return asyncio.run(_serve(settings, local=local or settings.discord_token is None))


def point_discord_at(api_base_url: str, gateway_url: str) -> None:
    """Use a Discord-compatible server (a REST proxy, our test emulator) instead of Discord."""
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def _quiet_libraries() -> None:
    from bot.cli.quiet import quiet_third_party

    quiet_third_party()


async def _serve(settings: Settings, *, local: bool) -> int:
    if not local:
        point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
        return await _run_bot(settings)
    # The embedded default, as SQLite is the default database: a Discord-compatible server in
    # this process, its world kept in the data folder; the bot talks to it over HTTP and
    # WebSocket exactly as to Discord.
    from playground import start_playground

    try:
        playground = await start_playground(
            settings.mj_data_dir / "playground",
            settings.mj_playground_host,
            settings.mj_playground_port,
        )
    except OSError as error:  # its port is taken, or its folder cannot be used
        print(f"error: the local playground cannot start: {error}", file=sys.stderr)
        return 2
    try:
        settings = settings.model_copy(
            update={
                "discord_token": SecretStr(playground.token),
                "discord_api_base_url": playground.api_base,
                "discord_gateway_url": playground.gateway_url,
                "discord_guild_ids": [playground.guild_id],
            }
        )
        point_discord_at(playground.api_base, playground.gateway_url)
        print(
            f"Open {playground.url} to use mjbot (local playground; set DISCORD_TOKEN to use "
            "Discord)",
            flush=True,
        )
        return await _run_bot(settings)
    finally:
        await playground.stop()


async def _run_bot(settings: Settings) -> int:
    import discord

    from bot.app import MjBot
    from db import StorageError

    assert settings.discord_token is not None  # noqa: S101 - set above or by the user
    bot = MjBot(settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with bot:
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("signal received: shutting down")
            await bot.close()
        try:
            await runner
        except discord.LoginFailure:
            log.error("Discord refused DISCORD_TOKEN; check it in the developer portal")
            return 1
        except StorageError as error:  # damaged, locked or unwritable storage: said plainly
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            stopper.cancel()
    return 0
