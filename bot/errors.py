"""The one error path of every command, button and form.

Handling order (as in python-discord's error handler):

1. :class:`UserError` — a mistake the user can fix (a bad prompt, a full queue, a job that is
   gone): its message, ephemeral, and nothing is logged as a failure.
2. discord.py's command checks and argument conversion failures: said plainly, ephemeral.
3. An interaction Discord no longer accepts (answered too late), or one the shutdown cut
   short: logged in one line, nobody to tell.
4. Anything else: logged with the job id (from the button or form) and a short incident id,
   which is all the user sees — never a traceback.

:func:`report` is installed as the command tree's ``on_error`` and as the routing hook of
buttons and forms (``bot.ui.routing``), so there is exactly one place this happens.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import discord
from discord import app_commands

from bot import texts
from parser import PromptError, UnknownParameterError

__all__ = ["PromptRefusal", "UserError", "prompt_refusal", "reply", "report"]

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UNKNOWN_INTERACTION = 10062


class UserError(Exception):
    """A mistake the user can fix, answered only to them.

    Attributes:
        message: the text (the embed's description when ``title`` is given).
        title: an embed title (``Invalid parameter``, ``Queue full``…), or ``None`` for a
            plain message.
        footer: the command it was about, shown under the embed.
        warning: yellow instead of red (not a refusal: ``Job queued``).
    """

    def __init__(
        self,
        message: str,
        *,
        title: str | None = None,
        footer: str | None = None,
        warning: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.title = title
        self.footer = footer
        self.warning = warning

    def embed(self) -> discord.Embed:
        return texts.error_embed(
            self.title or "", self.message, footer=self.footer, warning=self.warning
        )

    async def send(self, interaction: discord.Interaction[Any]) -> None:
        if self.title is None:
            await reply(interaction, content=self.message)
        else:
            await reply(interaction, embed=self.embed())


class PromptRefusal(UserError):
    """A prompt that cannot be used; ``prompt_error`` says where (for non-Discord pages)."""

    def __init__(self, prompt_error: PromptError, message: str, *, title: str, footer: str) -> None:
        super().__init__(message, title=title, footer=footer)
        self.prompt_error = prompt_error


def prompt_refusal(error: PromptError, footer: str) -> PromptRefusal:
    """``Invalid parameter`` (or ``Invalid prompt``) with the caret under the problem."""
    title = (
        "Invalid parameter"
        if error.parameter or isinstance(error, UnknownParameterError)
        else "Invalid prompt"
    )
    where = "your /prefer suffix" if error.origin == "suffix" else "your prompt"
    lines = [error.msg, f"In {where}:", f"```\n{error.render()}\n```"]
    if error.hint:
        lines.append(error.hint)
    return PromptRefusal(error, "\n".join(lines), title=title, footer=footer)


async def reply(
    interaction: discord.Interaction[Any],
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
) -> None:
    """An ephemeral answer, whether or not the interaction was acknowledged already."""
    mentions = discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(
            content or discord.utils.MISSING,
            embed=embed or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=mentions,
        )
    else:
        await interaction.response.send_message(
            content, embed=embed or discord.utils.MISSING, ephemeral=True, allowed_mentions=mentions
        )


async def report(interaction: discord.Interaction[Any], error: Exception) -> None:
    """The one error handler (see the module docstring for the order)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original if isinstance(error.original, Exception) else error
    if interaction.client.is_closed():  # shutting down: the answer cannot be sent any more
        log.info("interaction %s interrupted by the shutdown (%s)", interaction.id, error)
        return
    try:
        if isinstance(error, UserError):
            await error.send(interaction)
        elif isinstance(error, app_commands.AppCommandError):
            await reply(interaction, content=f"That command could not run: {error}")
        elif isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION:
            log.warning("interaction %s expired before it was answered", interaction.id)
        else:
            await _incident(interaction, error)
    except (discord.HTTPException, RuntimeError) as failed:  # RuntimeError: session closed
        log.warning("could not answer interaction %s: %s", interaction.id, failed)


async def _incident(interaction: discord.Interaction[Any], error: BaseException) -> None:
    code = uuid.uuid4().hex[:8]
    data: dict[str, Any] = dict(interaction.data or {})
    job = _JOB_ID.search(str(data.get("custom_id", "")))
    log.error(
        "incident %s (job %s) while handling %s",
        code,
        job[0] if job else "-",
        data.get("name") or data.get("custom_id"),
        exc_info=error,
    )
    embed = texts.error_embed(
        "Internal error", f"Something went wrong on our side (incident `{code}`)."
    )
    await reply(interaction, embed=embed)
