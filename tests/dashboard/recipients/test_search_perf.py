"""What the recipient search saves per request, and that nothing saved goes stale.

The mirror's recipient counts are cached briefly: a finished pull, a running pull and the
cache's time limit each bring the real count back. The results as typed (htmx) skip the
navigation; a page of results counts the matches only when it has to, and at most up to a cap.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.cache.backends import locmem
from django.urls import reverse
from django.utils import timezone

from dashboard.recipients.selectors import (
    MIRROR_COUNT_TTL,
    RESULTS_COUNT_CAP,
    recipient_search_page,
)
from dashboard.recipients.views import _with_detail_urls
from integrations.clients import Recipient
from integrations.models import MirroredRecipient
from integrations.sync.engine import job_execute
from integrations.sync.mirror import mirror_upsert
from integrations.sync.services import job_create_pull
from tests.factories import ConnectionFactory, SyncJobFactory
from tests.helpers.sessions import session_queries
from tests.integrations.sync.helpers import redflag_connection

pytestmark = pytest.mark.django_db
HTMX_RESULTS = {"HX-Request": "true", "HX-Target": "results"}


def mirror(connection, n: int, **fields) -> None:
    mirror_upsert(
        connection,
        [
            Recipient(
                provider=connection.provider,
                remote_id=fields.pop("remote_id", f"{n:024x}"),
                email=fields.pop("email", f"person{n}@example.com"),
                first_name=fields.pop("first_name", f"First{n}"),
                last_name=fields.pop("last_name", f"Last{n}"),
                **fields,
            )
        ],
    )


def status_count(client, connection) -> str:
    """The mirror status line of ``connection``'s search page: "<n> recipient(s)"."""
    body = client.get(f"/connections/{connection.pk}/recipients/").content.decode()
    section = body.split('id="mirror-status"', 1)[1].split("</section>", 1)[0]
    return section.split('<span class="small">', 1)[1].split("</span>", 1)[0]


# -- the mirror status counts (cached) -------------------------------------------------------


def test_a_finished_pull_shows_its_count_at_once(support_client, sandbox):
    conn = redflag_connection(sandbox)
    MirroredRecipient.objects.create(connection=conn, remote_id="f" * 24, email="ghost@y.z")
    assert status_count(support_client, conn) == "1 recipient"  # now cached
    job = job_create_pull(connection=conn)
    job_execute(job.pk)  # fills the mirror, marks the ghost gone, stamps mirror_refreshed_at
    expected = sandbox.state()["redflag"]["recipients"]
    assert expected != 1
    assert status_count(support_client, conn) == f"{expected} recipients"


def test_counts_are_live_while_a_pull_is_running(support_client):
    conn = ConnectionFactory(provider="redflag")
    mirror(conn, 1)
    assert status_count(support_client, conn) == "1 recipient"
    SyncJobFactory(connection=conn, kind="pull", status="running")
    mirror(conn, 2)  # a batch of the running pull
    headers = {"HX-Request": "true", "HX-Target": "mirror-status"}
    body = support_client.get(f"/connections/{conn.pk}/recipients/", headers=headers)
    assert "2 recipients" in body.content.decode()


def test_a_count_is_reused_for_at_most_the_cache_lifetime(support_client, monkeypatch):
    """An edit outside a pull (a create from the dashboard) shows in the count within
    MIRROR_COUNT_TTL seconds; the search results themselves are never cached."""
    conn = ConnectionFactory(provider="redflag")
    mirror(conn, 1)
    assert status_count(support_client, conn) == "1 recipient"
    mirror(conn, 2, first_name="Newcomer")
    assert status_count(support_client, conn) == "1 recipient"  # cached
    body = support_client.get(f"/connections/{conn.pk}/recipients/?q=newcomer").content.decode()
    assert "1 recipient matches “newcomer”" in body
    later = time.time() + MIRROR_COUNT_TTL + 1
    monkeypatch.setattr(locmem, "time", SimpleNamespace(time=lambda: later))  # the cache's clock
    assert status_count(support_client, conn) == "2 recipients"


def test_a_recipient_gone_at_the_next_pull_leaves_the_count(support_client):
    conn = ConnectionFactory(provider="redflag")
    mirror(conn, 1)
    mirror(conn, 2)
    assert status_count(support_client, conn) == "2 recipients"
    MirroredRecipient.objects.filter(remote_id=f"{2:024x}").update(gone_at=timezone.now())
    conn.mirror_refreshed_at = timezone.now()  # as the pull that found them gone does
    conn.save()
    assert status_count(support_client, conn) == "1 recipient"


# -- the results as typed ---------------------------------------------------------------------


def test_the_results_as_typed_read_only_the_session_user_permissions_and_matches(
    support_client, django_assert_num_queries
):
    conn = ConnectionFactory(provider="redflag")
    for n in range(30):
        mirror(conn, n, first_name="Pat")
    support_client.get(f"/connections/{conn.pk}/recipients/?q=zz", headers=HTMX_RESULTS)
    # The session (none when it is cached in Redis), the user, their permissions (one query:
    # RoleBackend), the connection, one page of matches counted with it.
    queries = 4 + session_queries()
    with django_assert_num_queries(queries):
        body = support_client.get(
            f"/connections/{conn.pk}/recipients/?q=nobody", headers=HTMX_RESULTS
        ).content.decode()
    assert "0 recipients match “nobody”" in body
    with django_assert_num_queries(queries):  # more than one page: the count costs no query
        body = support_client.get(
            f"/connections/{conn.pk}/recipients/?q=pat", headers=HTMX_RESULTS
        ).content.decode()
    assert "30 recipients match “pat”" in body and "page 1 of 2" in body
    assert '<nav class="sidebar"' not in body


# -- paging -----------------------------------------------------------------------------------


@pytest.fixture
def seven():
    conn = ConnectionFactory(provider="redflag")
    for n in range(7):
        mirror(conn, n, last_name=f"Seven{n}")
    return conn


def page_of(conn, page: str | None, *, cap: int = 1000):
    return recipient_search_page(
        query="seven",
        connections=[conn],
        page=page,
        per_page=3,
        count_cap=cap,
    )


def test_the_total_is_exact_up_to_the_cap_and_marked_beyond_it(seven):
    page = page_of(seven, "1")
    assert (page.count, page.capped, page.num_pages) == (7, False, 3)
    page = page_of(seven, "1", cap=5)
    assert (page.count, page.capped, page.num_pages, page.has_next) == (5, True, 2, True)
    last = page_of(seven, "2", cap=5)
    assert [r.last_name for r in last.rows] == ["Seven3", "Seven4", "Seven5"]
    assert not last.has_next  # the pages stop at the cap


def test_pages_past_the_end_show_the_last_and_nonsense_shows_the_first(seven):
    assert page_of(seven, "3").rows == page_of(seven, "99").rows
    assert [r.last_name for r in page_of(seven, "99").rows] == ["Seven6"]
    assert page_of(seven, "99").number == 3
    for nonsense in (None, "", "abc", "0", "-2", "1.5"):
        assert page_of(seven, nonsense).number == 1, nonsense


def test_a_results_row_holds_the_mirror_s_values_of_its_columns(seven):
    for row in page_of(seven, "1").rows + page_of(seven, "2").rows:
        mirrored = MirroredRecipient.objects.get(pk=row.id)
        for column in row._fields[:-1]:
            assert getattr(row, column) == getattr(mirrored, column), column
        assert row.connection == seven


def test_each_row_carries_its_connection_without_a_join(seven, django_assert_num_queries):
    page = page_of(seven, "1")
    with django_assert_num_queries(0):
        assert {row.connection.name for row in page.rows} == {seven.name}


def test_more_matches_than_the_cap_read_as_a_lower_bound(support_client):
    conn = ConnectionFactory(provider="redflag")
    MirroredRecipient.objects.bulk_create(
        MirroredRecipient(
            connection=conn,
            remote_id=f"{n:024x}",
            first_name="Many",
            last_name=f"Person{n:04d}",
            name_search=f"many person{n:04d}",
        )
        for n in range(RESULTS_COUNT_CAP + 1)
    )
    body = support_client.get(
        f"/connections/{conn.pk}/recipients/?q=many", headers=HTMX_RESULTS
    ).content.decode()
    assert "1,000+ recipients match “many”" in body
    assert "page 1 of 40" in body and "the first 1,000 are listed" in body
    body = support_client.get(
        f"/connections/{conn.pk}/recipients/?q=many&page=40", headers=HTMX_RESULTS
    ).content.decode()
    assert "Person0999" in body and "Person1000" not in body and 'rel="next"' not in body


def test_detail_links_are_what_reverse_makes_for_any_remote_id():
    conn = ConnectionFactory(provider="snappy")
    ids = ["rcp_00000001", "a b+c", "zoë", "x&y=z", "50%", "a'b(c)", "~:@!$*,;"]
    for n, remote_id in enumerate(ids):
        mirror(conn, n, remote_id=remote_id)
    rows = list(MirroredRecipient.objects.filter(connection=conn))
    for row, url in _with_detail_urls(rows):
        assert url == reverse("recipients:detail", args=[conn.pk, row.remote_id]), row.remote_id
        assert url.endswith(quote(row.remote_id, safe="!$&'()*+,;=~:@") + "/")
