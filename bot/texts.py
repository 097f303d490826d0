"""What the bot says: Midjourney's message formats and error embeds, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import discord

__all__ = [
    "ERROR_COLOUR",
    "WARNING_COLOUR",
    "error_embed",
    "final_text",
    "mode_label",
    "progress_text",
    "shorten",
    "single_image_text",
    "waiting_text",
]

ERROR_COLOUR = 0xFF0000
WARNING_COLOUR = 0xFFFF00
MODE_LABELS = {"fast": "fast", "relax": "relaxed", "turbo": "turbo"}
MESSAGE_MAX = 2000
"""Discord's limit for a message's content."""
REASON_MAX = 500

JOB_QUEUED = (
    "You have reached the maximum allowed number of concurrent jobs. Don't worry, "
    "this job will start as soon as another one finishes!"
)
QUEUE_FULL = (
    "Your job queue is full. Please wait for a job to finish first, then resubmit this one."
)
RELAX_MULTI = (
    "Permutation prompts and --repeat are only available in Fast or Turbo mode. "
    "Add --fast to the prompt, or switch with /fast."
)
BANNED = (
    "Sorry! Our AI moderator thinks this prompt is probably against our community "
    "standards. Please review our current community standards: the banned phrase was "
    "“{phrase}”."
)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    limit = max(limit, 1)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mode_label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)


def _job_message(prompt: str, who: str, tail: str) -> str:
    """``**<prompt>** - <who><tail>`` within Discord's 2000 characters: a long prompt is
    shortened with "…" (the whole prompt stays in the database and in ✉️)."""
    room = MESSAGE_MAX - len(f"**** - {who}{tail}")
    return f"**{shorten(prompt, room)}** - {who}{tail}"


def _who(label: str | None, user_id: int) -> str:
    return f"{label} by <@{user_id}>" if label else f"<@{user_id}>"


def waiting_text(prompt: str, label: str | None, user_id: int, queue_note: str = "") -> str:
    tail = " (Waiting to start)" + (f"\n{queue_note}" if queue_note else "")
    return _job_message(prompt, _who(label, user_id), tail)


def progress_text(prompt: str, label: str | None, user_id: int, percent: int, mode: str) -> str:
    return _job_message(prompt, _who(label, user_id), f" ({percent}%) ({mode_label(mode)})")


def final_text(prompt: str, label: str | None, user_id: int, mode: str) -> str:
    return _job_message(prompt, _who(label, user_id), f" ({mode_label(mode)})")


def failed_text(prompt: str, label: str | None, user_id: int, reason: str) -> str:
    tail = f" (Failed: {shorten(reason, REASON_MAX)})"
    return _job_message(prompt, _who(label, user_id), tail)


def stopped_text(prompt: str, label: str | None, user_id: int) -> str:
    return _job_message(prompt, _who(label, user_id), " (Stopped)")


def single_image_text(prompt: str, index: int, user_id: int) -> str:
    return _job_message(prompt, f"Image #{index} <@{user_id}>", "")


def error_embed(
    title: str, description: str, *, footer: str | None = None, warning: bool = False
) -> discord.Embed:
    import discord

    embed = discord.Embed(
        title=title, description=description, colour=WARNING_COLOUR if warning else ERROR_COLOUR
    )
    if footer:
        embed.set_footer(text=footer[:2048])
    return embed
