"""Recognising image URLs in prompts (shape only: fetching them is the bot's job)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["URL_START", "check_url", "unwrap_url"]

URL_START = re.compile(r"<?https?://", re.IGNORECASE)


def unwrap_url(token: str) -> str | None:
    """The URL in ``token``, without Discord's embed-suppressing ``<…>``; ``None`` if unclosed."""
    if token.startswith("<"):
        return token[1:-1] if token.endswith(">") and len(token) > 1 else None
    return token


def check_url(url: str) -> str | None:
    """Why ``url`` is not a usable http(s) URL, or ``None`` when it is."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError as error:
        return str(error)
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    if not host:
        return "it has no host name"
    if any(c.isspace() or c in "<>" for c in url):
        return "it contains spaces or angle brackets"
    return None
