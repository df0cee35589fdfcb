"""A file over the size cap gets the size message, however its body arrives, and is not stored.

The test client sends a ``Content-Length``; a real browser or script may announce a length over
the cap up front, or stream the body in chunks: each is tried against the live server too.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dashboard.imports.models import Import

SIZE_MESSAGE = "The file is larger than"
MB = 1024 * 1024


def stored_files(settings) -> list:
    return [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()]


@pytest.mark.django_db
def test_a_file_announced_far_over_the_cap_gets_the_size_message_not_a_500(
    admin_client, redflag, settings
):
    """The body's ``Content-Length`` alone shows it is too big: refused before it is read."""
    settings.IMPORT_MAX_BYTES = MB
    data = b"email\r\n" + b"a@example.com\r\n" * 150_000  # 2 MB: far over the cap
    response = admin_client.post(
        "/imports/new/",
        {"connection": redflag.pk, "file": SimpleUploadedFile("big.csv", data, "text/csv")},
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert f"{SIZE_MESSAGE} 1 MB: nothing was stored." in page
    # The form keeps the connection chosen, so the admin only picks a smaller file.
    assert f'<option value="{redflag.pk}" selected>' in page
    assert not Import.objects.exists()
    assert not stored_files(settings)


@pytest.mark.django_db
def test_a_file_just_over_the_cap_gets_the_size_message(admin_client, redflag, settings):
    settings.IMPORT_MAX_BYTES = MB
    data = b"email\r\n" + b"a@x.io\r\n" * 132_000  # 1 MB and a few kB
    response = admin_client.post(
        "/imports/new/",
        {"connection": redflag.pk, "file": SimpleUploadedFile("big.csv", data, "text/csv")},
    )
    assert response.status_code == 413
    assert f"{SIZE_MESSAGE} 1 MB: nothing was stored." in response.content.decode()
    assert not Import.objects.exists()


# -- against the live server, as a browser or a script sends it --------------------------


def _logged_in(live_server, user) -> tuple[httpx.Client, str]:
    """An httpx client (closed by the caller) with the user's session and the upload form's
    CSRF token."""
    django_client = Client()
    django_client.force_login(user)
    session = django_client.cookies["sessionid"].value
    client = httpx.Client(base_url=live_server.url, cookies={"sessionid": session}, timeout=30)
    page = client.get("/imports/new/")
    assert page.status_code == 200
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match is not None
    return client, match.group(1)


def _multipart(token: str, connection_pk: int, data: bytes) -> tuple[bytes, str]:
    boundary = "----harden-boundary-7MA4YWxkTrZu0gW"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{token}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="connection"\r\n\r\n'
        f"{connection_pk}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + data + tail, f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [MB + 5_000, 3 * MB], ids=["just-over", "far-over"])
def test_the_live_server_answers_an_oversized_upload_with_the_size_message(
    live_server, admin_user, redflag, settings, size
):
    """As a browser sends it (fields first, then the file, with a ``Content-Length``)."""
    settings.IMPORT_MAX_BYTES = MB
    client, token = _logged_in(live_server, admin_user)
    with contextlib.closing(client):
        response = client.post(
            "/imports/new/",
            data={"csrfmiddlewaretoken": token, "connection": str(redflag.pk)},
            files={"file": ("big.csv", b"email\r\n" + b"a" * size, "text/csv")},
            headers={"Referer": f"{live_server.url}/imports/new/"},
        )
    assert response.status_code == 413
    assert f"{SIZE_MESSAGE} 1 MB: nothing was stored." in response.text
    assert not Import.objects.exists()
    assert not stored_files(settings)


@pytest.mark.django_db(transaction=True)
def test_the_live_server_answers_a_chunked_upload_without_a_500(
    live_server, admin_user, redflag, settings
):
    """A body streamed in chunks (no ``Content-Length``) cannot be read by a WSGI app: the
    admin is told to send it again, and nothing is stored."""
    settings.IMPORT_MAX_BYTES = MB
    client, token = _logged_in(live_server, admin_user)
    body, content_type = _multipart(token, redflag.pk, b"email\r\n" + b"a" * 2 * MB)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    with contextlib.closing(client):
        response = client.post(
            "/imports/new/",
            content=chunks(),
            headers={
                "Content-Type": content_type,
                "Referer": f"{live_server.url}/imports/new/",
            },
        )
    assert response.status_code == 411
    assert "The upload arrived without its size" in response.text
    assert not Import.objects.exists()
    assert not stored_files(settings)


def _raw_post(live_server, session: str, csrf: str, body: bytes, content_type: str, length: int):
    """POST ``body`` announcing ``length`` bytes, then close the sending side; the status line
    and page the server answers."""
    host, port = live_server.thread.host, live_server.thread.port
    head = (
        f"POST /imports/new/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Cookie: sessionid={session}; csrftoken={csrf}\r\n"
        f"Referer: {live_server.url}/imports/new/\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the server may stop reading at its length
            sock.sendall(body)
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.decode("utf-8", "replace")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cut", ["announced-short", "sent-short"])
def test_the_live_server_answers_a_cut_upload_without_a_500_and_stores_nothing(
    live_server, admin_user, redflag, settings, cut
):
    """A body cut short (a ``Content-Length`` shorter than what is sent, or a client that stops
    sending half way) ends before its file does: the part of the file that came is not stored
    as if it were the whole file."""
    settings.IMPORT_MAX_BYTES = MB
    client, token = _logged_in(live_server, admin_user)
    session, csrf = client.cookies["sessionid"], client.cookies["csrftoken"]
    client.close()
    body, content_type = _multipart(token, redflag.pk, b"email\r\n" + b"a@x.io\r\n" * 20_000)
    if cut == "announced-short":
        status, page = _raw_post(live_server, session, csrf, body, content_type, len(body) // 2)
    else:
        status, page = _raw_post(
            live_server, session, csrf, body[: len(body) // 2], content_type, len(body)
        )
    assert status < 500, page[:2000]
    assert not Import.objects.exists()
    assert not stored_files(settings)
