"""Base URLs set by admins are an SSRF door: check them before storing and before calling.

Rules (DESIGN.md, "Reliability settings"): ``https://`` only, except ``http://`` to a loopback
host when the sandbox setting allows it; no credentials, query or fragment; a host that is (or
resolves to) a private, loopback, link-local, reserved or IPv4-mapped address is refused, except
loopback under the same setting.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    """The URL breaks a rule; the message says which, in plain words."""


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(
        ".localhost"
    ):
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Unresolvable here (no network, or a name only the production network knows):
        # the check is repeated when a request is made.
        return []
    return [
        ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        for *_, sockaddr in infos
        # An IPv4 or IPv6 address (the only families a host name resolves to), without the zone.
        if isinstance(sockaddr[0], str)
    ]


def _is_loopback(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _is_internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
    )


def check_base_url(url: str, *, allow_loopback: bool, resolve: bool = True) -> str:
    """Return the normalised URL (no trailing slash) or raise :class:`UnsafeURL`."""
    url = (url or "").strip()
    if not url:
        raise UnsafeURL("Enter the provider's base URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("This is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"}:
        raise UnsafeURL(
            f"Only https:// URLs are allowed (this one starts with {parts.scheme or 'nothing'}://)."
            if parts.scheme
            else "Start the URL with https://."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL("Remove the user name or password from the URL; enter the key below.")
    if parts.query or url.rstrip().endswith("?"):
        raise UnsafeURL("Remove the query string (the part after ?) from the URL.")
    if parts.fragment or "#" in url:
        raise UnsafeURL("Remove the fragment (the part after #) from the URL.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL has no host name.")
    addresses = _addresses(host) if resolve else []
    loopback = bool(addresses) and all(_is_loopback(a) for a in addresses)
    if scheme == "http" and not (allow_loopback and loopback):
        if loopback:
            raise UnsafeURL("http:// to this machine is allowed only when the sandbox is enabled.")
        raise UnsafeURL("Use https://; plain http:// is allowed only for the local sandbox.")
    for addr in addresses:
        if _is_loopback(addr):
            if not allow_loopback:
                raise UnsafeURL("This URL points at this machine, which is not allowed.")
        elif _is_internal(addr):
            raise UnsafeURL(
                "This URL points at a private or internal network address, which is not allowed."
            )
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc.lower()}{path}"
