"""Jobs: the typed spec (``spec``), child jobs (``children``), the one prompt check
(``prompts``), references as a stage (``references``), admission before acknowledgement
(``submit``), the runner, progress and delivery.

Imports ``bot.ui`` and the bot's base modules, never a feature (``bot.exts``).
"""
