"""The region editor: a small web server inside the bot, and its signed links."""
