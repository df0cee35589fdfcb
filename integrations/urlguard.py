"""Base URLs set by admins are an SSRF door: check them before storing and before calling.

Rules (DESIGN.md, "Reliability settings"): ``https://`` only, except ``http://`` to a loopback
host when the sandbox setting allows it; no credentials, query or fragment; a host that is (or
resolves to) an address that is not globally reachable (private, loopback, link-local,
reserved, shared 100.64.0.0/10, multicast; IPv4-mapped forms included) is refused, except
loopback under the same setting.

A name checked when the URL is saved can resolve elsewhere when a request is made (DNS
rebinding). ``guarded_transport`` closes that gap: it resolves the host itself each time it
opens a connection, applies the same address rules to every address it got, and connects to
one of those checked addresses (TLS still verifies the host name).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL breaks a rule; the message says which, in plain words."""


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(
        ".localhost"
    ):
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        return resolve(host, 0)
    except (OSError, UnicodeError):
        # Unresolvable here (no network, or a name only the production network knows):
        # the check is repeated when a request is made.
        return []


def _is_loopback(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _is_internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    # Only globally reachable unicast addresses: ``is_global`` is false for private, loopback,
    # link-local, reserved and unspecified addresses, and also for the shared address space
    # (100.64.0.0/10, carrier-grade NAT, where some clouds serve instance metadata) and the
    # other special-purpose blocks that ``is_private`` does not name.
    return not addr.is_global or addr.is_multicast


def address_problem(addr: Address, *, allow_loopback: bool) -> str | None:
    """Why a provider may not be reached at ``addr``, or ``None`` when it may."""
    if _is_loopback(addr):
        return None if allow_loopback else "This URL points at this machine, which is not allowed."
    if _is_internal(addr):
        return "This URL points at a private or internal network address, which is not allowed."
    return None


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
        problem = address_problem(addr, allow_loopback=allow_loopback)
        if problem:
            raise UnsafeURL(problem)
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc.lower()}{path}"


# -- at connection time -----------------------------------------------------------------------


@dataclass(frozen=True)
class AddressRules:
    """The address rules a client applies each time it connects (``guarded_transport``)."""

    allow_loopback: bool


class AddressRefused(httpcore.ConnectError):
    """The host resolved, when connecting, to an address the rules refuse; nothing was sent."""


Resolver = Callable[[str, int], Iterable[Address]]


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (an IP literal is itself), without zones."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [
        ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        for *_, sockaddr in infos
        if isinstance(sockaddr[0], str)
    ]


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, checking and pinning the address of each new connection."""

    def __init__(self, *, allow_loopback: bool, resolver: Resolver = resolve) -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = list(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"Could not resolve the host name: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError("The host name resolved to no address.")
        for addr in addresses:  # all of them, as check_base_url does
            problem = address_problem(addr, allow_loopback=self.allow_loopback)
            if problem:
                raise AddressRefused(problem)
        last: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for addr in addresses:
            try:
                return super().connect_tcp(str(addr), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


def guarded_transport(
    *, allow_loopback: bool, limits: httpx.Limits, resolver: Resolver = resolve
) -> httpx.HTTPTransport:
    """An httpx transport whose every new connection goes through ``GuardedBackend``.

    httpx does not take a network backend, so the one its connection pool was built with is
    swapped (``tests/integrations/test_urlguard.py`` fails if httpx changes this).
    """
    transport = httpx.HTTPTransport(limits=limits, trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx's transport no longer exposes its network backend.")
    pool._network_backend = GuardedBackend(allow_loopback=allow_loopback, resolver=resolver)
    return transport
