"""The SSRF guard: endpoints may only reach public addresses, unless a network is allowed.

Checked twice: when an endpoint is registered (every address its name resolves to), and on every
new connection, inside the HTTP client's resolver, so a name whose DNS changed after registration
is refused at the moment it would be connected to (no check-then-connect gap: that resolver is
services/webhooks/http.py's, beside the HTTP client). aiohttp does not resolve IP literals, so
those are checked before the request.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from services.webhooks.errors import UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def address_allowed(ip: IPAddress, allowed: Sequence[Network]) -> bool:
    """Public unicast only: not private, loopback, link-local (cloud metadata 169.254.169.254,
    fd00:ec2::254), multicast, reserved, shared (100.64/10) or unspecified; IPv4-mapped IPv6
    addresses are judged as the IPv4 address they carry."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == n.version and ip in n for n in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def split_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; UnsafeURLError for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeURLError(url, f"not a valid URL ({e})") from e
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(url, "only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeURLError(url, "no host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_literal(url: str, allowed: Sequence[Network]) -> None:
    """At delivery time: a URL whose host is an IP literal (names go through the resolver)."""
    host, _ = split_url(url)
    ip = _literal(host)
    if ip is not None and not address_allowed(ip, allowed):
        raise UnsafeURLError(url, f"{ip} is not a public address")


async def check_url(url: str, allowed: Sequence[Network]) -> None:
    """At registration: the scheme, and every address the host resolves to now."""
    host, port = split_url(url)
    ip = _literal(host)
    if ip is not None:
        ips = [ip]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
        except OSError as e:
            raise UnsafeURLError(url, f"cannot resolve {host} ({e})") from e
        ips = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    refused = sorted({str(a) for a in ips if not address_allowed(a, allowed)})
    if refused and ip is not None:
        raise UnsafeURLError(url, f"{ip} is not a public address")
    if refused:
        raise UnsafeURLError(url, f"{host} resolves to non-public address(es) "
                                  f"{', '.join(refused)}")
