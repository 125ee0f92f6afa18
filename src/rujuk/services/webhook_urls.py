"""Where webhooks may be sent: public https addresses only, unless private ones are allowed.

A URL is checked when an endpoint is saved and again before every attempt, and the attempt
connects to the very address that was checked (the hostname still names the TLS server and
the Host header): a name that resolved to a public address when it was saved cannot be
pointed at the loopback, the private network or a cloud metadata service afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL = 2000


class UrlRefused(Exception):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt connects: the URL with the checked address in place of the name."""

    url: str
    host_header: str
    server_name: str | None


def check_form(url: str, allow_private: bool) -> SplitResult:
    """The URL's parts, when it is an absolute https URL (http too when allow_private)."""
    if not 1 <= len(url) <= MAX_URL or url != url.strip():
        raise UrlRefused(f"the URL must be 1 to {MAX_URL} characters without surrounding spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise UrlRefused("the URL is malformed") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UrlRefused(
            "the URL must start with https://"
            + ("" if allow_private else " (http:// only with RUJUK_WEBHOOKS_ALLOW_PRIVATE=1)")
        )
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL must not carry credentials")
    if parts.fragment:
        raise UrlRefused("the URL must not have a fragment")
    return parts


def refusal(address: str) -> str | None:
    """Why webhooks may not go to this IP address, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata services live there)"
    if ip.is_private:
        return f"{ip} is a private address"
    if not ip.is_global or ip.is_multicast:
        return f"{ip} is not a public unicast address"
    return None


async def resolve(url: str, allow_private: bool) -> Target:
    """Check the URL and resolve its host; UrlRefused when it is malformed, does not
    resolve, or (unless allow_private) resolves to any address that is not public."""
    found = _address_target(url, allow_private)
    if found is not None:
        return found
    return await _resolve(url, allow_private)


@functools.lru_cache(maxsize=1024)
def _address_target(url: str, allow_private: bool) -> Target | None:
    """The target of a URL whose host is an address (what resolve finds for it every time:
    no lookup is involved), or None for a name. Refusals are raised, not remembered."""
    parts = check_form(url, allow_private)
    assert parts.hostname is not None  # check_form refuses URLs without one
    if _is_name(parts.hostname):
        return None
    if not allow_private and (reason := refusal(parts.hostname)) is not None:
        raise UrlRefused(f"the host {parts.hostname} resolves to {reason}")
    return _target(parts, parts.hostname, is_name=False)


async def _resolve(url: str, allow_private: bool) -> Target:
    """resolve() for a URL whose host is a name: looked up every time (DNS rebinding)."""
    parts = check_form(url, allow_private)
    host = parts.hostname
    assert host is not None  # check_form refuses URLs without one
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise UrlRefused(f"the host {host} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UrlRefused(f"the host {host} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise UrlRefused(f"the host {host} resolves to {reason}")
    return _target(parts, addresses[0], is_name=True)


def _target(parts: SplitResult, address: str, is_name: bool) -> Target:
    host = parts.hostname
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return Target(
        url=parts._replace(netloc=netloc).geturl(),
        host_header=parts.netloc,
        server_name=host if is_name and parts.scheme == "https" else None,
    )


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False
