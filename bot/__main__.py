"""``python -m bot``: the same as the ``mjbot`` command."""

from bot.cli import main

raise SystemExit(main())
