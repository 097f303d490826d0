"""Safe download of image URLs from prompts: no private addresses, bounded size, time and pixels."""

from __future__ import annotations

import asyncio
import hashlib
import io
import ipaddress
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from PIL import Image, UnidentifiedImageError
from yarl import URL

from bot.addresses import (
    BlockedAddressError,
    GuardedResolver,
    is_allowed,
    is_public_address,
    legacy_ipv4,
)

__all__ = [
    "BlockedAddressError",
    "FetchError",
    "FetchLimits",
    "FetchedImage",
    "Fetcher",
    "GuardedResolver",
    "check_image_bytes",
    "decode_image",
    "guarded_session",
    "is_public_address",
    "legacy_ipv4",
]

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_CHUNK = 64 * 1024
_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Pillow plugin names; restricting ``Image.open`` to these keeps obscure decoders out of reach.
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_HEADERS = {"User-Agent": "mjbot image fetcher", "Accept": "image/*", "Accept-Encoding": "identity"}


class FetchError(Exception):
    """A URL (or upload) that could not be used.

    ``str(error)`` is a short user-facing reason that names the URL, e.g.
    ``https://x/y.png: the server answered 404``.

    Attributes:
        url: the URL as the user gave it (or ``"upload"`` for attachments).
        reason: the reason alone, without the URL.
    """

    def __init__(self, url: str, reason: str) -> None:
        shown = url if len(url) <= 100 else url[:99] + "…"
        super().__init__(f"{shown}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 20 * MIB
    timeout_s: float = 15.0  # whole download, including slow bodies
    connect_timeout_s: float = 5.0
    max_redirects: int = 3
    max_pixels: int = 40_000_000  # decompression-bomb guard (width*height)
    # Hosts (or host:port) allowed even if private or loopback, e.g. a test server.
    allow_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FetchedImage:
    url: str  # the URL as given
    final_url: str  # after redirects
    data: bytes
    content_type: str
    format: str  # Pillow's format name, lower-case: "png", "jpeg", "webp", "gif"
    width: int
    height: int
    sha256: str


def guarded_session(
    limits: FetchLimits = FetchLimits(), *, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """A session whose connector only reaches public addresses (or ``limits.allow_hosts``).

    ``resolver`` replaces the system resolver underneath the guard (tests use a fake one).
    Must be called with an event loop running.
    """
    guard = GuardedResolver(resolver or DefaultResolver(), limits.allow_hosts)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=guard),
        timeout=aiohttp.ClientTimeout(total=None, connect=limits.connect_timeout_s),
        headers=_HEADERS,
        # Proxies from the environment would do the resolving for us, out of the guard's sight.
        trust_env=False,
        # Images are compressed already; inflating a gzip body could blow past the byte cap.
        auto_decompress=False,
    )


def _size(n: int) -> str:
    if n >= MIB:
        return f"{n / MIB:.3g} MiB"
    return f"{n / 1024:.3g} KiB" if n >= 1024 else f"{n} bytes"


def _describe(exc: BaseException) -> str:
    """A few words on an unexpected download failure, for the user."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "TLS problem"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "host not found" if isinstance(exc.os_error, socket.gaierror) else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the connection broke off"
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return "invalid link"
    return type(exc).__name__


def check_image_bytes(
    data: bytes, limits: FetchLimits, *, url: str = "upload"
) -> tuple[str, int, int]:
    """``(format, width, height)`` of a whole PNG, JPEG, WebP or GIF image, or :class:`FetchError`.

    Decodes pixels, so call it through ``asyncio.to_thread`` from async code.
    """
    if len(data) > limits.max_bytes:
        raise FetchError(url, f"larger than {_size(limits.max_bytes)}")
    try:
        # 1. Identify from the header; Image.open is lazy and decodes no pixels yet.
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            format_, (width, height) = str(image.format).lower(), image.size
            # 2. Refuse bombs on the declared size, before anything gets decoded.
            if width * height > limits.max_pixels:
                raise FetchError(
                    url,
                    f"is too large ({width}×{height} pixels; "
                    f"the limit is {limits.max_pixels / 1e6:g} megapixels)",
                )
            # 3. Structural check (PNG chunk CRCs and the like).
            image.verify()
        # 4. verify() leaves the image unusable and checks nothing for JPEG, so decode it to
        #    prove it is whole; draft() lets JPEG decode at 1/8 scale, which still reads it all.
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            image.draft(None, (1, 1))
            image.load()
    except UnidentifiedImageError:
        raise FetchError(url, "is not an image (PNG, JPEG, WebP or GIF)") from None
    # Pillow's own bomb guard fires in Image.open beyond its MAX_IMAGE_PIXELS; the warning is
    # only an exception when warning filters say so, but then it is a refusal all the same.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FetchError(url, "is too large (too many pixels)") from None
    # Pillow reports damage as any of these, depending on the format and where the data stops.
    except (OSError, SyntaxError, ValueError, EOFError, IndexError):
        raise FetchError(url, "is a damaged or truncated image") from None
    return format_, width, height


def decode_image(data: bytes) -> Image.Image:
    """Checked image bytes (a download, an upload, a stored file) decoded (blocking: call it
    in a thread from async code)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class Fetcher:
    """Downloads image URLs safely; see :class:`FetchLimits` for the bounds.

    A ``session`` passed in is used as is and not closed; it should come from
    :func:`guarded_session`, since the private-address guard lives in its connector.
    ``resolver`` replaces the system resolver under the guard (for tests).
    """

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        *,
        session: aiohttp.ClientSession | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._limits = limits
        self._session = session
        self._owns_session = session is None
        self._resolver = resolver
        self._allow_hosts = frozenset(host.lower() for host in limits.allow_hosts)

    @property
    def limits(self) -> FetchLimits:
        return self._limits

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_image(self, url: str) -> FetchedImage:
        """Download and check ``url``; every failure is a :class:`FetchError` naming it."""
        limits = self._limits
        # 1. Download, redirects included, under one deadline (trickling bodies included).
        try:
            async with asyncio.timeout(limits.timeout_s):
                final_url, content_type, data = await self._download(url)
        except TimeoutError:
            raise FetchError(url, f"took longer than {limits.timeout_s:g} s") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("download of %s failed", url, exc_info=True)
            raise FetchError(url, f"could not be downloaded ({_describe(exc)})") from None
        # 2. Trust the bytes, not the Content-Type; Pillow runs off the event loop.
        try:
            format_, width, height = await asyncio.to_thread(
                check_image_bytes, data, limits, url=url
            )
        except FetchError as error:
            if error.reason.startswith("is not an image") and not content_type.startswith("image/"):
                raise FetchError(url, f"is not an image (the server sent {content_type})") from None
            raise
        return FetchedImage(
            url=url,
            final_url=final_url,
            data=data,
            content_type=content_type,
            format=format_,
            width=width,
            height=height,
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _checked_url(self, url: str, target: str, hop: int) -> URL:
        """``target`` parsed, if it is an http(s) URL whose literal IP (if any) may be reached."""
        try:
            parsed = URL(target)
        except ValueError:
            raise FetchError(url, "is not a valid link") from None
        if parsed.scheme not in _SCHEMES or not parsed.host:
            raise FetchError(url, "only http and https links can be used")
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        try:
            literal = ipaddress.ip_address(parsed.host.split("%", 1)[0])
        except ValueError:
            try:
                literal = legacy_ipv4(parsed.host)
            except ValueError:
                raise FetchError(url, "is not a valid link") from None
            if literal is None:
                return parsed  # a name: the GuardedResolver judges what it resolves to
            # A numeric host in a legacy form (2130706433, 0177.0.0.1, 127.1) is an address
            # to the C library; judge it as one, and connect to it in its plain form.
            parsed = parsed.with_host(str(literal))
        # The connector skips the resolver for IP literals, so they are judged here.
        if not is_public_address(str(literal)) and not is_allowed(
            parsed.host or "", parsed.port, self._allow_hosts
        ):
            raise FetchError(url, _private_reason(hop))
        return parsed

    async def _download(self, url: str) -> tuple[str, str, bytes]:
        """``(final_url, content_type, body)`` after following at most max_redirects."""
        limits = self._limits
        if self._session is None:
            self._session = guarded_session(limits, resolver=self._resolver)
        timeout = aiohttp.ClientTimeout(total=None, connect=limits.connect_timeout_s)
        target = url
        for hop in range(limits.max_redirects + 1):
            try:
                response = await self._session.get(
                    self._checked_url(url, target, hop),
                    allow_redirects=False,  # every hop must pass the address checks again
                    timeout=timeout,
                    headers=_HEADERS,
                )
            except BlockedAddressError:
                raise FetchError(url, _private_reason(hop)) from None
            except aiohttp.ServerTimeoutError:
                raise FetchError(
                    url, f"did not answer within {limits.connect_timeout_s:g} s"
                ) from None
            async with response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(url, "redirected nowhere")
                    target = str(response.url.join(URL(location)))
                    continue
                if response.status != 200:
                    raise FetchError(url, f"the server answered {response.status}")
                data = await self._read_capped(url, response)
                return str(response.url), response.content_type, data
        raise FetchError(url, f"redirected more than {limits.max_redirects} times")

    async def _read_capped(self, url: str, response: aiohttp.ClientResponse) -> bytes:
        cap = self._limits.max_bytes
        too_large = FetchError(url, f"larger than {_size(cap)}")
        if response.content_length is not None and response.content_length > cap:
            response.close()  # drop the connection rather than drain a body we will not use
            raise too_large
        # Servers may lie about or omit Content-Length: count what actually arrives.
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > cap:
                response.close()
                raise too_large
        return bytes(body)


def _private_reason(hop: int) -> str:
    return "points to a private address" if hop == 0 else "redirects to a private address"
