"""Routing by registration: features register their buttons and forms; clicks find them.

A feature (``bot.exts.<name>``) registers each button action with its handler and where the
button is shown (:class:`Placement`), and each form kind with its handler. The rows of
buttons under a message are built from those placements (:meth:`Routes.view`), so a new
button is one registration in one feature. A click whose action nobody registered (a button
from an older or newer version) is answered "This button no longer works" and starts nothing.
Every handler runs under the one error hook given to :class:`Routes`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import discord

from bot.ui.custom_ids import BUTTON_PATTERN, ButtonId, FormId
from bot.ui.forms import submitted_values

__all__ = [
    "BUTTON_GONE",
    "FORM_GONE",
    "ButtonHandler",
    "ErrorHook",
    "FormHandler",
    "ImageContext",
    "Placement",
    "Routes",
    "Surface",
]

log = logging.getLogger(__name__)

BUTTON_GONE = "This button no longer works."
FORM_GONE = "That form no longer does anything."
GRID_IMAGES = (1, 2, 3, 4)


class Surface(StrEnum):
    """Where a button is shown."""

    WAITING = "waiting"
    """Under a job's waiting message, while it is queued or rendering."""
    GRID = "grid"
    """Under a 2×2 grid."""
    SINGLE = "single"
    """Under one image (U<n>, an upscale, a variation of one image)."""
    DESCRIBE = "describe"
    """Under ``/describe``'s four prompts."""


@dataclass(frozen=True, slots=True)
class ImageContext:
    """What decides which buttons a message gets and how they look."""

    job_id: str
    index: int = 0
    """The image's number (1-based) for single images; 0 for a whole job."""
    width: int = 0
    height: int = 0
    upscaled: bool = False
    remix: bool = False
    """The job's owner has Remix mode on."""

    @property
    def square(self) -> bool:
        return self.width == self.height


def _always(context: ImageContext) -> bool:
    return True


def _grey(context: ImageContext) -> discord.ButtonStyle:
    return discord.ButtonStyle.secondary


@dataclass(frozen=True, slots=True)
class Placement:
    """One place a button is shown: surface, row (0–4) and its order in the row."""

    surface: Surface
    row: int
    order: int
    label: str | None = None
    """``{n}`` is replaced by the image's number (``U{n}`` → ``U2``)."""
    emoji: str | None = None
    """Also with ``{n}`` (``{n}\ufe0f\u20e3`` → 2️⃣)."""
    per_image: bool = False
    """One button per grid image (U1–U4) instead of one for the message."""
    shown: Callable[[ImageContext], bool] = field(default=_always)
    style: Callable[[ImageContext], discord.ButtonStyle] = field(default=_grey)


ButtonHandler = Callable[[discord.Interaction[Any], ButtonId], Awaitable[None]]
FormHandler = Callable[[discord.Interaction[Any], FormId, Mapping[str, str]], Awaitable[None]]
ErrorHook = Callable[[discord.Interaction[Any], Exception], Awaitable[None]]


class Routes:
    """The registry of button actions and form kinds, and the views built from it."""

    def __init__(self, on_error: ErrorHook) -> None:
        self.on_error = on_error
        self._buttons: dict[str, ButtonHandler] = {}
        self._placements: list[tuple[str, Placement]] = []
        self._forms: dict[str, FormHandler] = {}
        self._job_button = _job_button_class(self)

    # -- registration ------------------------------------------------------------------------

    def add_button(self, action: str, handler: ButtonHandler, *placements: Placement) -> None:
        if action in self._buttons:
            raise ValueError(f"button action {action!r} is registered twice")
        self._buttons[action] = handler
        self._placements.extend((action, placement) for placement in placements)

    def add_form(self, kind: str, handler: FormHandler) -> None:
        if kind in self._forms:
            raise ValueError(f"form kind {kind!r} is registered twice")
        self._forms[kind] = handler

    def dynamic_items(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        """For ``client.add_dynamic_items``: clicks on every old message reach :meth:`press`."""
        return (self._job_button,)

    # -- views -------------------------------------------------------------------------------

    def view(self, surface: Surface, context: ImageContext) -> discord.ui.View:
        """The registered buttons of ``surface`` that apply to ``context``, in their rows."""
        buttons: list[tuple[int, int, int, discord.ui.Button[Any]]] = []
        for action, place in self._placements:
            if place.surface is not surface or not place.shown(context):
                continue
            numbers = GRID_IMAGES if place.per_image else (context.index,)
            for number in numbers:
                label = place.label.replace("{n}", str(number)) if place.label else None
                emoji = place.emoji.replace("{n}", str(number)) if place.emoji else None
                button: discord.ui.Button[Any] = discord.ui.Button(
                    label=label,
                    emoji=emoji,
                    style=place.style(context),
                    row=place.row,
                    custom_id=str(ButtonId(action, context.job_id, number)),
                )
                buttons.append((place.row, place.order, number, button))
        view = discord.ui.View(timeout=None)
        for *_, button in sorted(buttons, key=lambda entry: entry[:3]):
            view.add_item(button)
        return view

    # -- dispatch ----------------------------------------------------------------------------

    async def press(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        handler = self._buttons.get(button.action)
        if handler is None:
            log.info("button %s: no such action (older or newer version)", button)
            await interaction.response.send_message(BUTTON_GONE, ephemeral=True)
            return
        await self.run(interaction, handler(interaction, button))

    async def submit(self, interaction: discord.Interaction[Any]) -> None:
        """Route a submitted ``mjm:`` form to its handler; other modals are not ours."""
        data: dict[str, Any] = dict(interaction.data or {})
        form = FormId.parse(str(data.get("custom_id", "")))
        if form is None:
            return
        handler = self._forms.get(form.kind)
        if handler is None:
            log.info("form %s: no such kind (older or newer version)", form)
            await interaction.response.send_message(FORM_GONE, ephemeral=True)
            return
        await self.run(interaction, handler(interaction, form, submitted_values(interaction)))

    async def run(self, interaction: discord.Interaction[Any], call: Awaitable[None]) -> None:
        """Await a handler; whatever it raises goes to the one error hook."""
        try:
            await call
        except Exception as error:
            await self.on_error(interaction, error)


def _job_button_class(routes: Routes) -> type[discord.ui.DynamicItem[Any]]:
    class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_PATTERN):
        """Any ``mj:`` button on any message, old or new: its id says what to do."""

        def __init__(self, button_id: ButtonId, item: discord.ui.Button[Any]) -> None:
            super().__init__(item)
            self.button_id = button_id

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
        ) -> JobButton:
            button_id = ButtonId(match["action"], match["job"], int(match["index"]))
            button = item if isinstance(item, discord.ui.Button) else discord.ui.Button()
            return cls(button_id, button)

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await routes.press(interaction, self.button_id)

    return JobButton
