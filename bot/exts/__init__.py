"""The bot's features, one package each (``imagine``, ``grid``, ``region``, ``describe``,
``blend``, ``settings``, ``account``…).

Each package has ``async def setup(bot)`` (discord.py's extension entry point) that registers
its commands, its buttons and forms (``bot.ui.routing``) and its listeners. Features never
import each other; what two features share lives in ``bot.jobs`` or ``bot.ui``. The bot loads
every package found here (:func:`feature_names`), so adding a feature is adding a package.
"""

from __future__ import annotations

import pkgutil

__all__ = ["feature_names"]


def feature_names() -> list[str]:
    """The dotted names of the feature packages, in a stable order."""
    return sorted(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.ispkg)
