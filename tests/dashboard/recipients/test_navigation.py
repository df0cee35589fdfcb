"""The "Recipients" navigation item: who sees it, and when it is the current page."""

from __future__ import annotations

import pytest

from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def nav(body: str) -> str:
    return body.split('<nav class="sidebar"', 1)[1].split("</nav>", 1)[0]


def test_recipients_comes_right_after_the_overview(admin_client):
    links = nav(admin_client.get("/").content.decode())
    assert links.index(">Overview</a>") < links.index(">Recipients</a>")
    assert links.index(">Recipients</a>") < links.index(">Connections</a>")


def test_one_connections_recipient_pages_highlight_recipients_not_connections(admin_client):
    conn = ConnectionFactory()
    links = nav(admin_client.get(f"/connections/{conn.pk}/recipients/").content.decode())
    assert '<a href="/recipients/" aria-current="page">Recipients</a>' in links
    assert '<a href="/connections/" aria-current="page">' not in links
    links = nav(admin_client.get(f"/connections/{conn.pk}/").content.decode())
    assert '<a href="/connections/" aria-current="page">Connections</a>' in links
