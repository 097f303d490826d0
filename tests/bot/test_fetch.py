"""The safe image fetcher: private addresses, redirects, size, time and pixel bounds."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from PIL import Image

from bot.fetch import Fetcher, FetchError, FetchLimits, check_image_bytes, legacy_ipv4

TOTAL = 50 * 1024 * 1024  # what the "huge" endpoints would send if nobody stopped them
CHUNK = b"\0" * (64 * 1024)


def encode(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking 1-bit PNG that claims ``width``×``height``: tiny on disk, huge decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


PNG = encode("PNG")
JPEG = encode("JPEG")


@dataclass
class Server:
    """A local test server; records which paths were hit and how much each streamed."""

    port: int = 0
    hits: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    finished: dict[str, asyncio.Event] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    async def wait_finished(self, path: str) -> int:
        await asyncio.wait_for(self.finished[path].wait(), 5)
        return self.sent[path]


def build_app(server: Server, other_port: int = 0) -> web.Application:
    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        server.hits.append(request.path)
        server.finished.setdefault(request.path, asyncio.Event())
        return await handler(request)

    def blob(
        data: bytes, content_type: str = "image/png"
    ) -> Callable[..., Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(body=data, content_type=content_type)

        return handle

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        # Relative locations on purpose: the fetcher must resolve them against the hop's URL.
        raise web.HTTPFound("/png" if left == 0 else f"/redirect/{left - 1}")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def stream(request: web.Request, declared: int | None, delay: float = 0) -> None:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        if declared is not None:
            response.content_length = declared
        await response.prepare(request)
        server.sent[request.path] = 0
        try:
            data = b"\x89PNG\r\n\x1a\n" if delay else CHUNK
            while server.sent[request.path] < TOTAL:
                await response.write(data)
                server.sent[request.path] += len(data)
                data = b"\0" if delay else CHUNK
                await asyncio.sleep(delay)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass  # the fetcher hung up, which is what the tests want to see
        finally:
            server.finished[request.path].set()

    async def huge_declared(request: web.Request) -> web.StreamResponse:
        await stream(request, declared=TOTAL)
        return web.Response()

    async def huge_chunked(request: web.Request) -> web.StreamResponse:
        await stream(request, declared=None)
        return web.Response()

    async def trickle(request: web.Request) -> web.StreamResponse:
        await stream(request, declared=None, delay=0.05)
        return web.Response()

    html = b"<!doctype html><title>not a picture</title>"
    app = web.Application(middlewares=[record])
    app.router.add_get("/png", blob(PNG))
    app.router.add_get("/jpeg", blob(JPEG, "image/jpeg"))
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/redirect-to", redirect_to)
    app.router.add_get("/huge-declared", huge_declared)
    app.router.add_get("/huge-chunked", huge_chunked)
    app.router.add_get("/trickle", trickle)
    app.router.add_get("/html-as-png", blob(html, "image/png"))
    app.router.add_get("/html", blob(html, "text/html"))
    app.router.add_get("/bomb", blob(png_declaring(100_000, 100_000)))
    app.router.add_get("/truncated", blob(PNG[: len(PNG) // 2]))
    return app


async def start(server: Server) -> web.AppRunner:
    runner = web.AppRunner(build_app(server), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    return runner


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    result = Server()
    runner = await start(result)
    yield result
    await runner.cleanup()


@pytest.fixture
async def other() -> AsyncIterator[Server]:
    """A second server that no test allows: it must never be reached."""
    result = Server()
    runner = await start(result)
    yield result
    await runner.cleanup()


def limits_for(server: Server, **changes: object) -> FetchLimits:
    return replace(FetchLimits(allow_hosts=frozenset({server.host})), **changes)  # type: ignore[arg-type]


async def fetch(
    limits: FetchLimits, url: str, resolver: AbstractResolver | None = None
) -> FetchError:
    """The FetchError that fetching ``url`` raises."""
    async with Fetcher(limits, resolver=resolver) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch_image(url)
    assert str(caught.value).startswith(url)
    return caught.value


class FakeResolver(AbstractResolver):
    """DNS that answers from a table, to play a public name that resolves to a private address."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.table[host]
        ]

    async def close(self) -> None:
        pass


# Downloads that work


async def test_fetch_png_returns_checked_image(server: Server) -> None:
    async with Fetcher(limits_for(server)) as fetcher:
        image = await fetcher.fetch_image(server.url("/png"))
    assert (image.format, image.width, image.height) == ("png", 64, 48)
    assert image.data == PNG
    assert image.sha256 == hashlib.sha256(PNG).hexdigest()
    assert image.content_type == "image/png"
    assert image.url == image.final_url == server.url("/png")


async def test_fetch_jpeg_returns_checked_image(server: Server) -> None:
    async with Fetcher(limits_for(server)) as fetcher:
        image = await fetcher.fetch_image(server.url("/jpeg"))
    assert (image.format, image.width, image.height) == ("jpeg", 64, 48)


async def test_fetch_follows_redirects_up_to_the_limit(server: Server) -> None:
    async with Fetcher(limits_for(server, max_redirects=3)) as fetcher:
        image = await fetcher.fetch_image(server.url("/redirect/2"))
    assert image.url == server.url("/redirect/2")
    assert image.final_url == server.url("/png")
    assert server.hits == ["/redirect/2", "/redirect/1", "/redirect/0", "/png"]


async def test_fetch_allowed_name_connects_to_the_resolved_address(server: Server) -> None:
    resolver = FakeResolver({"images.example": ["127.0.0.1"]})
    limits = FetchLimits(allow_hosts=frozenset({f"images.example:{server.port}"}))
    async with Fetcher(limits, resolver=resolver) as fetcher:
        image = await fetcher.fetch_image(f"http://images.example:{server.port}/png")
    assert image.format == "png"


async def test_fetch_leaves_a_given_session_open(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        async with Fetcher(limits_for(server), session=session) as fetcher:
            await fetcher.fetch_image(server.url("/png"))
        assert not session.closed


# Addresses that must not be reached


async def test_fetch_loopback_refused_when_not_allowed(server: Server) -> None:
    error = await fetch(FetchLimits(), server.url("/png"))
    assert error.reason == "points to a private address"
    assert server.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x.png",
        "http://192.168.1.10/x.png",
        "http://172.16.0.1/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/x.png",
        "http://0.0.0.0/x.png",
        "http://224.0.0.1/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://[fe80::1]/x.png",
        "http://[fd00::1]/x.png",
        "https://127.0.0.1/x.png",
    ],
)
async def test_fetch_literal_private_ip_refused(url: str) -> None:
    error = await fetch(FetchLimits(), url)
    assert error.reason == "points to a private address"


async def test_fetch_name_resolving_to_private_address_refused(server: Server) -> None:
    resolver = FakeResolver({"images.example": ["127.0.0.1"]})
    error = await fetch(
        FetchLimits(), f"http://images.example:{server.port}/png", resolver=resolver
    )
    assert error.reason == "points to a private address"
    assert server.hits == []


async def test_fetch_name_with_any_private_address_refused() -> None:
    resolver = FakeResolver({"mixed.example": ["93.184.215.14", "10.1.2.3"]})
    error = await fetch(FetchLimits(), "http://mixed.example/a.png", resolver=resolver)
    assert error.reason == "points to a private address"


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "127.1", "0x7f.0.0.1", "0x7f000001"])
async def test_fetch_numeric_ipv4_forms_do_not_reach_loopback(server: Server, host: str) -> None:
    # Our own check refuses them (whatever aiohttp's version thinks of such hosts): the
    # reason is ours, and no connection is attempted.
    error = await fetch(FetchLimits(), f"http://{host}:{server.port}/png")
    assert error.reason == "points to a private address"
    assert server.hits == []


def test_legacy_ipv4_forms_are_read_as_the_c_library_reads_them() -> None:
    assert str(legacy_ipv4("2130706433")) == "127.0.0.1"
    assert str(legacy_ipv4("0177.0.0.1")) == "127.0.0.1"
    assert str(legacy_ipv4("127.1")) == "127.0.0.1"
    assert str(legacy_ipv4("0x5d.0xb8.0xd7.0x0e")) == "93.184.215.14"
    assert legacy_ipv4("images.example") is None
    assert legacy_ipv4("123.example") is None
    with pytest.raises(ValueError, match="not an address"):
        legacy_ipv4("99999999999")


async def test_allowed_numeric_hosts_are_reached_in_their_plain_form(server: Server) -> None:
    limits = FetchLimits(allow_hosts=frozenset({f"127.0.0.1:{server.port}"}))
    async with Fetcher(limits) as fetcher:
        fetched = await fetcher.fetch_image(f"http://2130706433:{server.port}/png")
    assert fetched.format == "png"
    assert len(server.hits) == 1


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "gopher://example.com/",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "example.com/a.png",
        "",
    ],
)
async def test_fetch_non_http_scheme_refused(url: str) -> None:
    error = await fetch(FetchLimits(), url)
    assert error.reason == "only http and https links can be used"


@pytest.mark.parametrize("url", ["http://[::1/x.png", "http://exa mple.com:99999/x.png"])
async def test_fetch_malformed_url_refused(url: str) -> None:
    error = await fetch(FetchLimits(), url)
    assert error.reason == "is not a valid link"


async def test_fetch_redirect_to_private_literal_refused_before_connecting(server: Server) -> None:
    # A connect timeout this short would surface as a different error had it tried to connect.
    limits = limits_for(server, connect_timeout_s=0.05)
    error = await fetch(limits, server.url("/redirect-to?to=http://10.0.0.1/x.png"))
    assert error.reason == "redirects to a private address"


async def test_fetch_redirect_to_unlisted_localhost_refused(server: Server, other: Server) -> None:
    target = f"http://localhost:{other.port}/png"
    error = await fetch(limits_for(server), server.url(f"/redirect-to?to={target}"))
    assert error.reason == "redirects to a private address"
    assert other.hits == []


async def test_fetch_redirect_to_file_scheme_refused(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/redirect-to?to=file:///etc/passwd"))
    assert error.reason == "only http and https links can be used"


async def test_fetch_too_many_redirects_refused(server: Server) -> None:
    error = await fetch(limits_for(server, max_redirects=3), server.url("/redirect/3"))
    assert error.reason == "redirected more than 3 times"
    assert "/png" not in server.hits


# Size, time and content bounds


async def test_fetch_declared_oversize_refused_before_reading(server: Server) -> None:
    error = await fetch(limits_for(server, max_bytes=256 * 1024), server.url("/huge-declared"))
    assert error.reason == "larger than 256 KiB"
    assert await server.wait_finished("/huge-declared") < TOTAL // 4


async def test_fetch_undeclared_oversize_cut_off_at_cap(server: Server) -> None:
    error = await fetch(limits_for(server, max_bytes=256 * 1024), server.url("/huge-chunked"))
    assert error.reason == "larger than 256 KiB"
    # The server stopped long before the end: the fetcher hung up instead of draining.
    assert await server.wait_finished("/huge-chunked") < TOTAL // 4


async def test_fetch_trickling_body_cut_off_by_deadline(server: Server) -> None:
    started = time.monotonic()
    error = await fetch(limits_for(server, timeout_s=0.5), server.url("/trickle"))
    assert error.reason == "took longer than 0.5 s"
    assert time.monotonic() - started < 2
    assert await server.wait_finished("/trickle") < 100


async def test_fetch_html_labelled_png_refused(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/html-as-png"))
    assert error.reason.startswith("is not an image")


async def test_fetch_html_page_names_its_content_type(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/html"))
    assert error.reason == "is not an image (the server sent text/html)"


async def test_fetch_decompression_bomb_refused(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/bomb"))
    assert error.reason.startswith("is too large")


async def test_fetch_image_over_max_pixels_refused(server: Server) -> None:
    error = await fetch(limits_for(server, max_pixels=1000), server.url("/png"))
    assert error.reason == "is too large (64×48 pixels; the limit is 0.001 megapixels)"


async def test_fetch_truncated_png_refused(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/truncated"))
    assert error.reason == "is a damaged or truncated image"


async def test_fetch_404_names_the_status(server: Server) -> None:
    error = await fetch(limits_for(server), server.url("/missing.png"))
    assert str(error) == f"{server.url('/missing.png')}: the server answered 404"


async def test_fetch_closed_port_is_a_short_error(server: Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limits = FetchLimits(allow_hosts=frozenset({f"127.0.0.1:{port}"}))
    error = await fetch(limits, f"http://127.0.0.1:{port}/png")
    assert error.reason == "could not be downloaded (cannot connect)"


# Uploads (Discord attachments)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_check_image_bytes_accepts_supported_formats(fmt: str) -> None:
    assert check_image_bytes(encode(fmt), FetchLimits()) == (fmt.lower(), 64, 48)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "is not an image (PNG, JPEG, WebP or GIF)"),
        (encode("BMP"), "is not an image (PNG, JPEG, WebP or GIF)"),
        (PNG[:-20], "is a damaged or truncated image"),
        (JPEG[: len(JPEG) // 2], "is a damaged or truncated image"),
        (encode("WEBP")[:-100], "is a damaged or truncated image"),
        (png_declaring(100_000, 100_000), "is too large (too many pixels)"),
        (png_declaring(8000, 6000), "is too large (8000×6000 pixels; the limit is 40 megapixels)"),
    ],
    ids=["empty", "bmp", "truncated-png", "truncated-jpeg", "truncated-webp", "bomb", "too-large"],
)
def test_check_image_bytes_refuses_bad_uploads(data: bytes, reason: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_image_bytes(data, FetchLimits(), url="cat.png")
    assert str(caught.value) == f"cat.png: {reason}"


def test_check_image_bytes_refuses_oversized_upload() -> None:
    with pytest.raises(FetchError, match=r"^upload: larger than 1 KiB$"):
        check_image_bytes(PNG, FetchLimits(max_bytes=1024))
