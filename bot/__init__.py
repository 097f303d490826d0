"""The Discord bot: composition root, command handlers, command-line interface.

Importing this package must stay cheap: heavy libraries (torch, diffusers, discord.py) are
imported where they are used, so ``mjbot parse`` and ``--help`` start in well under a second.
"""
