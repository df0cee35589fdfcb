"""Base URLs set by admins cannot point the server at internal addresses."""

from __future__ import annotations

import pytest

from integrations.urlguard import UnsafeURL, check_base_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.Example.com/public-api/", "https://api.example.com/public-api"),
        ("https://api.example.com:8443", "https://api.example.com:8443"),
        ("  https://api.example.com  ", "https://api.example.com"),
    ],
)
def test_good_urls_are_normalised(url, expected):
    assert check_base_url(url, allow_loopback=False, resolve=False) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://x",
        "http://example.com",
        "https://u:p@example.com",
        "https://example.com/?a=1",
        "https://example.com/#x",
        "https://10.1.2.3",
        "https://192.168.0.1",
        "https://172.16.0.1",
        "https://169.254.169.254",
        "https://[::1]",
        "https://127.0.0.1",
        "https://0.0.0.0",
        "https://[::ffff:127.0.0.1]",
        "https://[fe80::1]",
        "https://100.64.0.1",  # shared address space (CGNAT): some clouds' metadata lives here
        "https://100.100.100.200",  # one such metadata address
        "https://[::ffff:100.64.0.1]",
        "https://192.0.0.8",  # IETF protocol assignments
        "https://198.18.0.1",  # benchmarking
        "https://224.0.0.1",  # multicast
        "https://[64:ff9b:1::a]",  # local-use IPv4/IPv6 translation
        "https://localhost",
        "https://example.com:99999",
        "https://",
        "",
    ],
)
def test_unsafe_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_base_url(url, allow_loopback=False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/redflag", "http://localhost:8765", "http://[::1]:8765"]
)
def test_loopback_http_is_allowed_only_for_the_sandbox(url):
    assert check_base_url(url, allow_loopback=True).startswith("http://")
    with pytest.raises(UnsafeURL):
        check_base_url(url, allow_loopback=False)


def test_private_addresses_stay_refused_even_with_the_sandbox_setting():
    with pytest.raises(UnsafeURL):
        check_base_url("https://10.0.0.1", allow_loopback=True)


# -- at connection time (DNS rebinding) --------------------------------------------------------


@pytest.fixture
def local_server():
    """A tiny HTTP server on 127.0.0.1 that answers every GET with {"ok": true} and its Host."""
    import http.server
    import json
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"ok": True, "host": self.headers.get("Host")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def guarded_client(*, allow_loopback: bool, resolver=None):
    import httpx

    from integrations.urlguard import guarded_transport, resolve

    transport = guarded_transport(
        allow_loopback=allow_loopback, limits=httpx.Limits(), resolver=resolver or resolve
    )
    return httpx.Client(transport=transport, timeout=5)


def test_the_guard_connects_to_an_allowed_address(local_server):
    with guarded_client(allow_loopback=True) as client:
        assert client.get(f"http://127.0.0.1:{local_server}/").json()["ok"] is True


def test_the_guard_refuses_this_machine_when_loopback_is_not_allowed(local_server):
    import httpx

    from integrations.urlguard import AddressRefused

    with guarded_client(allow_loopback=False) as client, pytest.raises(httpx.ConnectError) as exc:
        client.get(f"http://127.0.0.1:{local_server}/")
    assert isinstance(exc.value.__cause__, AddressRefused)
    assert "this machine" in str(exc.value)


def test_the_guard_connects_to_the_address_it_checked_and_keeps_the_host_name(local_server):
    """The resolver's answer is what is checked and what is connected to (pinned)."""
    import ipaddress

    seen = []

    def resolver(host, port):
        seen.append((host, port))
        return [ipaddress.ip_address("127.0.0.1")]

    with guarded_client(allow_loopback=True, resolver=resolver) as client:
        reply = client.get(f"http://provider.example:{local_server}/").json()
    assert seen == [("provider.example", local_server)]
    assert reply["host"] == f"provider.example:{local_server}"


@pytest.mark.parametrize(
    "rebound",
    ["10.1.2.3", "192.168.0.10", "169.254.169.254", "::ffff:10.0.0.1", "fd00::1", "100.64.1.1"],
)
def test_a_name_that_now_resolves_to_an_internal_address_is_refused_before_connecting(rebound):
    """A host that passed the check when saved but resolves inward now: nothing is sent."""
    import ipaddress

    import httpx

    from integrations.urlguard import AddressRefused

    def resolver(host, port):
        # One public address and one internal one: any refused address refuses the host.
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address(rebound)]

    with (
        guarded_client(allow_loopback=True, resolver=resolver) as client,
        pytest.raises(httpx.ConnectError) as exc,
    ):
        client.get("https://rebind.example/")
    assert isinstance(exc.value.__cause__, AddressRefused)
    assert "private or internal" in str(exc.value)


def test_a_provider_client_reports_a_refused_address_plainly_and_does_not_retry(local_server):
    from integrations.clients import RedFlagClient
    from integrations.clients.errors import ProviderError
    from integrations.urlguard import AddressRules

    calls: list[object] = []
    client = RedFlagClient(
        f"http://127.0.0.1:{local_server}",
        "token-123",
        None,
        enabled_fields=None,
        address_rules=AddressRules(allow_loopback=False),
        rate_limit=None,
        sleep=lambda s: None,
        on_request=calls.append,
    )
    try:
        with pytest.raises(ProviderError) as exc:
            client.get_recipient("5f1c0ffee0000000000000aa")
    finally:
        client.close()
    assert "Refused to connect to RedFlag" in exc.value.message
    assert "this machine" in exc.value.message
    assert not exc.value.retryable
    assert len(calls) == 1  # one attempt, no retry


@pytest.mark.django_db
def test_connection_clients_apply_the_rules_on_every_connection(settings):
    import httpx

    from integrations.connection import connection_client
    from integrations.urlguard import GuardedBackend
    from tests.factories import ConnectionFactory

    settings.ALLOW_LOOPBACK_PROVIDER_URLS = True
    connection = ConnectionFactory(provider="redflag", base_url="http://127.0.0.1:9")
    client = connection_client(connection)
    try:
        transport = client._http._transport
        assert isinstance(transport, httpx.HTTPTransport)
        backend = transport._pool._network_backend
        assert isinstance(backend, GuardedBackend)
        assert backend.allow_loopback is True
    finally:
        client.close()
