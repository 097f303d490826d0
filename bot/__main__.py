"""``python -m bot``: the ``mjbot`` command (``python -m bot`` alone runs the bot)."""

import sys

from bot.cli import main

raise SystemExit(main(sys.argv[1:] or ["serve"]))
