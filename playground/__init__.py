"""The playground: a local Discord (API v10 REST, gateway, files) with a web page to use it.

The unmodified discord.py talks to it over HTTP + WebSocket, so `mjbot serve` without a
Discord token runs the same bot, the same code paths, against it. One aiohttp server serves
REST under `/api/v10`, the gateway at `/gateway` (and WebSocket upgrades at `/`), uploaded
attachments at `/attachments/{channel}/{id}/{filename}`, files a test hosts at `/files/{path}`,
and the web client: the page at `/` (plain HTML/CSS/JS in `static/`), its data under `/client/`
and its live feed at `/client/live`. It imports none of `parser`, `engine`, `db`, `bot`, nor
`discord`. Protocol facts: shared/reference/discord-protocol.md.

Product:
    `await start_playground(data_dir, host, port) -> Playground` opens (or creates) the world in
    `data_dir` (SQLite `playground.db` + `files/`: guild, #general and #art, alice and bob,
    messages, attachments, reactions, synced commands, recent interactions), serves it, and warns
    loudly on a non-loopback host. `Playground`: `url` (the page), `bot_env()` (DISCORD_TOKEN,
    DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL, DISCORD_GUILD_IDS), `token`, `api_base`,
    `gateway_url`, `guild_id`, `connected`, `flush()`, `stop()`. `python -m playground` runs one
    on its own.

Tests: `Emulator` (a `Playground` with the driver API below) lives in memory unless given a
`data_dir`; everything it holds survives bot restarts and bot process kills.

Wiring a bot:
    in process    `with point_discord_at(emu): await bot.start(emu.token)` (tests/playground/
                  wiring.py; it imports discord, so it is not in this package) sets `Route.BASE` and
                  `DiscordWebSocket.DEFAULT_GATEWAY` (pass `guild_ready_timeout=0.05` to the bot).
    sub-process   `env={**os.environ, **emu.bot_env()}`: DISCORD_TOKEN, DISCORD_API_BASE_URL,
                  DISCORD_GATEWAY_URL, DISCORD_GUILD_IDS; then `await emu.wait_connected()`.
    examples      tests/playground/: `harness.py` (a sample bot, `running(emu)`, `raw(...)`),
                  `conftest.py` (`emu`).

Driver API (`Emulator`; coroutines run in the test's loop; `user` defaults to `emu.alice`):
    lifecycle   `async with Emulator(*, token, bot_name, guild_name, channel_name, premium_tier=0,
                ack_deadline=3.0, token_lifetime=900.0, privileged_intents=..., port=0,
                data_dir=None) as emu`, or
                `await emu.start()` / `await emu.stop()`; `port`, `http_base`, `api_base`,
                `gateway_url`, `token`, `application_id`, `bot_user`, `guild_id`, `channel_id`,
                `alice`, `bob`, `bot_env()`.
    world       `add_user(name, *, guild_id=None) -> User`, `add_guild(name, *, premium_tier=0)`,
                `add_channel(name, *, guild_id=None)` (dispatched when a bot is connected),
                `guild(id=None) -> Guild` (`premium_tier`, `limits: Limits` of content, embeds,
                rows, row items, custom_id, upload bytes), `set_upload_limit(n | None, *,
                guild_id=None)`, `channel(id=None)`, `commands(guild_id=None)` (None: global).
    users act   `await slash(name, user, *, channel_id=None, options={name: value},
                attachments={name: (filename, bytes, content_type)}, subcommand="group sub")`,
                `await autocomplete(name, focused, user, *, options=..., subcommand=...)` then
                `await choices_of(record)` (the bot's choices, callback type 8),
                `await click(message_id, custom_id, user)`, `await select(message_id, custom_id,
                values, user)`, `await submit_modal(opened_by, {custom_id: value}, user=opener)`
                all return an `InteractionRecord` and raise `EmulatorError` where the Discord
                client would refuse (unsynced command, unknown option or field, wrong type,
                missing required value, disabled or unknown component, bad select values).
                `await say(content, user, *, channel_id=None, files=())`, `await react(message_id,
                emoji, user)`, `await unreact(...)`, `await delete_message(message_id)` (moderator).
    waiting     `await response_of(record, timeout=5.0)` -> the callback body {"type", "data"};
                `await wait_for(predicate, timeout=5.0, *, what=None)` -> the truthy value,
                re-evaluated on every request, frame and change (and every 10 ms); it fails at
                once on an emulator bug. `await wait_connected()`, `await wait_disconnected()`.
    records     `InteractionRecord`: `response`, `response_type`, `callbacks` (type, body, files),
                `callback_files`, `acknowledged`, `original_message(_id)`, `followups`,
                `followup_ids`, `modal`, `choices`, `payload`, `id`, `token`.
                `Message`: `content`, `embeds`, `components`, `attachments` (with `.data`),
                `flags`, `ephemeral`, `loading`, `author_id`, `deleted`, `revisions`, `reactions`
                (emoji -> user ids), `interaction_metadata`, `find_component()`, `custom_ids()`.
    inspection  `messages(channel_id=None, *, include_deleted=False)` in order (ephemeral ones
                included), `message(id)`, `attachment_bytes(att)`, `dm_channel(user)`,
                `dms(user)`, `requests`, `requests_to(method, path_part)`, `frames`, `identifies`,
                `interactions`, `violations`, `violations_of(kind)`,
                `assert_no_violations(*allowed_kinds)`, `connected`.
    hosting     `host_file(path, data, content_type, *, status=200, delay=0, chunk_delay=0,
                chunk_size=65536, headers=None) -> url`, `host_redirect(path, location, *,
                status=302) -> url`, `hosted(path).hits`.
    hooks       `send_op(7 | 9, d)`, `close_gateway(code=4000)`, `dispatch(event, data)`,
                `advance(seconds)` (the clock behind both deadlines), `inject_error(method,
                path_part, status, code, message, *, times=1)`, `rate_limit_next(method,
                path_part, retry_after=0.05)` (a 429 discord.py retries).

Rules (error JSON `{"code", "message"}` plus a recorded `Violation(kind, ...)`):
    `ack_deadline`        no callback within `ack_deadline` s (flagged by a timer or `advance`);
                          a late callback gets 404 / 10062 "Unknown interaction"
    `double_ack`          a second callback: 400 / 40060
    `token_expired`       webhook routes after `token_lifetime` s: 401 / 50027
    `followup_before_ack` 404 / 10015
    `too_large`           files over the channel's upload limit: 413 / 40005
    `invalid_form`        400 / 50035: content, embeds, rows, row items, selects alone, custom_id
                          length and duplicates, callback type, modal layout, command sync
    `empty_message`       400 / 50006 (sends, and edits that would empty a message)
    `unknown_*`           404 with Discord's codes (message 10008, channel 10003, ...)
    `unknown_route`       404 JSON for anything not emulated
    `unauthorized`        401 for a wrong or missing bot token
    `bad_token`, `privileged_intents`, `gateway_*`   gateway closes 4004 / 4014 / 400x
    `emulator_error`      a bug here: 500 JSON (discord.py retries 500s with 1-9 s sleeps)
Every violation is also pushed to open pages, which show it as a notice in its channel.
Discord behaviours kept: the first follow-up after a thinking defer replaces the loading message;
ephemeral messages are stored but never dispatched nor visible to REST; without the
message-content intent, guild messages of others arrive blank; `enforce_nonce` de-duplicates.
"""

from playground.driver import Emulator
from playground.errors import ApiError, EmulatorError, EmulatorTimeoutError
from playground.host import Playground, start_playground
from playground.models import (
    Attachment,
    Callback,
    Channel,
    Frame,
    Guild,
    InteractionRecord,
    Limits,
    Message,
    RequestRecord,
    UploadedFile,
    User,
    Violation,
)

__all__ = [
    "ApiError",
    "Attachment",
    "Callback",
    "Channel",
    "Emulator",
    "EmulatorError",
    "EmulatorTimeoutError",
    "Frame",
    "Guild",
    "InteractionRecord",
    "Limits",
    "Message",
    "Playground",
    "RequestRecord",
    "UploadedFile",
    "User",
    "Violation",
    "start_playground",
]
