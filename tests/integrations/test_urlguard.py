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
