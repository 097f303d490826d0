"""Discord's interface pieces the features share: custom-id formats, routing, views, forms.

Imports nothing else of the bot's: features (``bot.exts``) register their buttons and forms
here, and the job layer (``bot.jobs``) builds the rows of buttons from what was registered.
"""
