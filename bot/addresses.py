"""Which addresses the image fetcher may reach: public unicast only (IPv4 embedded in IPv6
judged too, legacy numeric IPv4 forms read as the C library reads them), checked on the
literal in a URL and on every address a name resolves to."""

from __future__ import annotations

import ipaddress
import re
import socket

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "BlockedAddressError",
    "GuardedResolver",
    "is_allowed",
    "is_public_address",
    "legacy_ipv4",
]

# NAT64 prefixes embed an IPv4 address that a NAT64 gateway would reach for us.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddressError(Exception):
    """Raised by :class:`GuardedResolver` when a host resolves to a non-public address."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP literal, maybe with ``%zone``) is a globally routable unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address reach that address: judge it too.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
        if ip.is_site_local:
            return False
    # is_global alone lets multicast through, and its tables differ between Python versions.
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host means to ``inet_aton`` (one to four parts, decimal,
    octal with a leading 0 or hex with 0x: ``2130706433``, ``0177.0.0.1``, ``127.1``), or
    ``None`` for a name. :class:`ValueError` for numbers no address can be."""
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise ValueError(f"{host} is not an address") from None


def is_allowed(host: str, port: int | None, allow_hosts: frozenset[str]) -> bool:
    host = host.lower().rstrip(".")
    bracketed = f"[{host}]" if ":" in host else host
    return bool(allow_hosts) and any(
        key in allow_hosts for key in (host, bracketed, f"{host}:{port}", f"{bracketed}:{port}")
    )


class GuardedResolver(AbstractResolver):
    """Resolves with a base resolver and refuses hosts that resolve to a non-public address.

    The connector connects only to the addresses this returns, so a DNS answer that changes
    between a check and the connection (DNS rebinding) cannot slip a private address through.
    """

    def __init__(self, base: AbstractResolver, allow_hosts: frozenset[str] = frozenset()) -> None:
        self._base = base
        self._allow_hosts = frozenset(host.lower() for host in allow_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._base.resolve(host, port, family)
        if is_allowed(host, port, self._allow_hosts):
            return results
        # Refuse the whole host rather than filter: a name that mixes public and private
        # addresses is up to something, and a clear error beats a flaky connection.
        for result in results:
            if not is_public_address(result["host"]):
                raise BlockedAddressError(host, result["host"])
        return results

    async def close(self) -> None:
        await self._base.close()
