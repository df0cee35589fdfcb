"""Searching the mirror: what matches, what is left out, paging, htmx and the mirror's age.

The search reads only the mirror, so these tests need no provider: rows are written with
``mirror_upsert`` as a pull job would.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from django.utils.html import escape

from dashboard.recipients.selectors import (
    recipient_match,
    recipient_search_page,
    search_query_clean,
    searchable_connection_list,
    searchable_connections,
)
from integrations.clients import Recipient
from integrations.models import JobKind, JobStatus, MirroredRecipient
from integrations.sync.mirror import mirror_upsert
from tests.factories import ConnectionFactory, SyncJobFactory
from tests.helpers.environment import TESTDATA
from tests.helpers.sessions import session_queries

pytestmark = pytest.mark.django_db
HTMX_RESULTS = {"HX-Request": "true", "HX-Target": "results"}
BLNS = TESTDATA / "blns" / "blns.json"


def mirror(connection, n: int, **fields) -> Recipient:
    recipient = Recipient(
        provider=connection.provider,
        remote_id=fields.pop("remote_id", f"{n:024x}"),
        email=fields.pop("email", f"person{n}@example.com"),
        first_name=fields.pop("first_name", f"First{n}"),
        last_name=fields.pop("last_name", f"Last{n}"),
        **fields,
    )
    mirror_upsert(connection, [recipient])
    return recipient


@pytest.fixture
def conn():
    return ConnectionFactory(name="Acme RedFlag", provider="redflag")


def found(query: str, connection=None) -> set[str]:
    """The emails the search pages find for ``query``, whose total is the number of them."""
    emails = found_in_order(query, connection)
    assert len(set(emails)) == len(emails)
    return set(emails)


def found_in_order(query: str, connection=None) -> list[str]:
    """The emails the search pages list for ``query``, in their order (one page of 1,000)."""
    connections = [connection] if connection else searchable_connection_list()
    page = recipient_search_page(query=query, connections=connections, page=None, per_page=1000)
    assert page.count == len(page.rows) and not page.capped
    return [r.email for r in page.rows]


def test_a_name_fragment_finds_the_person_whatever_the_accents_case_or_word_order(conn):
    mirror(conn, 1, first_name="Zoë", last_name="Müller", email="zm@example.com")
    mirror(conn, 2, first_name="Zoltán", last_name="Horváth", email="zh@example.com")
    assert found("Zoe") == {"zm@example.com"}
    assert found("zoë") == {"zm@example.com"}
    assert found("MULL") == {"zm@example.com"}
    assert found("müller zoe") == {"zm@example.com"}
    assert found("zo") == {"zm@example.com", "zh@example.com"}
    assert found("horvath") == {"zh@example.com"}


def test_one_or_two_letters_find_names_with_a_word_starting_with_them(conn):
    """Short words match the start of a first name, a surname or a hyphenated part of one;
    three letters or more match anywhere."""
    mirror(conn, 1, first_name="Wei", last_name="Li", email="li@example.com")
    mirror(conn, 2, first_name="Lisa", last_name="Berg", email="lisa@example.com")
    mirror(conn, 3, first_name="Anna", last_name="Tanaka-Lí", email="anna@example.com")
    mirror(conn, 4, first_name="Amelia", last_name="Cole", email="amelia@example.com")
    assert found("Li") == {"li@example.com", "lisa@example.com", "anna@example.com"}
    assert found("l") == {"li@example.com", "lisa@example.com", "anna@example.com"}
    assert found("li wei") == {"li@example.com"}
    assert found("lia") == {"amelia@example.com"}  # three letters: anywhere
    assert found("elia") == {"amelia@example.com"}


def test_email_matches_whole_or_by_its_beginning_case_insensitively(conn):
    mirror(conn, 1, email="Ada.Lovelace@Example.com", first_name="Ada", last_name="L")
    assert found("ada.lovelace@example.com") == {"Ada.Lovelace@Example.com"}
    assert found("ADA.LOVE") == {"Ada.Lovelace@Example.com"}
    assert found("lovelace@example.com") == set()  # not a beginning, not a name


def test_phone_matches_in_any_formatting(conn):
    mirror(conn, 1, email="uk@example.com", phone="+44 7911 123456")
    for query in ("+44 7911 123456", "447911123456", "07911 123-456", "(7911) 123 456", "123456"):
        assert found(query) == {"uk@example.com"}, query
    assert found("999999") == set()


def test_external_id_and_the_providers_id_match(conn):
    mirror(
        conn, 1, email="e@example.com", external_id="E100042", remote_id="60f4aeb09279e27183c0a9da"
    )
    assert found("E100042") == {"e@example.com"}
    assert found("E1000") == {"e@example.com"}
    assert found("60F4AEB09279E27183C0A9DA") == {"e@example.com"}
    assert found("60f4aeb0") == set()  # ids match whole


def test_recipients_gone_from_the_provider_are_not_listed(conn):
    mirror(conn, 1, email="here@example.com", first_name="Sam")
    mirror(conn, 2, email="gone@example.com", first_name="Sam")
    MirroredRecipient.objects.filter(email="gone@example.com").update(gone_at=timezone.now())
    assert found("sam") == {"here@example.com"}


def test_the_cross_connection_search_covers_every_active_recipient_connection(conn):
    other = ConnectionFactory(provider="snappy")
    disabled = ConnectionFactory(provider="redflag", is_active=False)
    mirror(conn, 1, email="a@example.com", first_name="Kim")
    mirror(other, 2, email="b@example.com", first_name="Kim")
    mirror(disabled, 3, email="c@example.com", first_name="Kim")
    assert found("kim") == {"a@example.com", "b@example.com"}
    assert found("kim", connection=conn) == {"a@example.com"}


def test_every_word_of_the_query_must_be_in_the_name(conn):
    mirror(conn, 1, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    mirror(conn, 2, first_name="Ada", last_name="Byron", email="byron@example.com")
    assert found("lovelace ada") == {"ada@example.com"}
    assert found("ada") == {"ada@example.com", "byron@example.com"}
    assert found("ada turing") == set()


def test_an_email_typed_with_accents_finds_the_address_written_without(conn):
    mirror(conn, 1, email="zoe.muller@example.com", first_name="Z", last_name="M")
    assert found("zoë.müller@") == {"zoe.muller@example.com"}
    assert found("Zoë.Müller@Example.com") == {"zoe.muller@example.com"}


def test_a_phone_query_needs_four_digits_after_the_trunk_prefix(conn):
    mirror(conn, 1, email="uk@example.com", phone="+44 7911 123456")
    assert found("0791") == set()  # "791": too few digits to be tried as a phone
    assert found("07911") == {"uk@example.com"}
    assert found("911 1") == {"uk@example.com"}  # digits anywhere in the number
    assert found("7911a") == set()  # a letter: not a phone


def test_an_external_id_matches_by_its_beginning_in_its_own_case(conn):
    mirror(conn, 1, email="e@example.com", first_name="X", last_name="Y", external_id="E100042")
    assert found("E1000") == {"e@example.com"}
    assert found("e1000") == set()
    assert found("100042") == set()  # not a beginning


def test_a_provider_id_matches_whole_as_typed_or_lower_cased_in_the_searched_connections(conn):
    other = ConnectionFactory(provider="snappy")
    mirror(conn, 1, email="lower@example.com", remote_id="rcp_abc")
    mirror(conn, 2, email="upper@example.com", remote_id="RCP_XYZ")
    mirror(other, 3, email="other@example.com", remote_id="rcp_abc")
    assert found("RCP_ABC", connection=conn) == {"lower@example.com"}
    assert found("RCP_XYZ", connection=conn) == {"upper@example.com"}
    assert found("rcp_xyz", connection=conn) == set()
    assert found("rcp_abc") == {"lower@example.com", "other@example.com"}


def test_results_are_listed_by_surname_then_first_name_then_creation(conn):
    mirror(conn, 1, email="b2@example.com", first_name="Bo", last_name="Smith")
    mirror(conn, 2, email="a@example.com", first_name="Al", last_name="Smith")
    mirror(conn, 3, email="b1@example.com", first_name="Bo", last_name="Smith")
    mirror(conn, 4, email="j@example.com", first_name="Zed", last_name="Jones")
    assert found_in_order("smith") == ["a@example.com", "b2@example.com", "b1@example.com"]
    assert found_in_order("") == [
        "j@example.com", "a@example.com", "b2@example.com", "b1@example.com"
    ]  # fmt: skip


def test_an_empty_query_lists_every_live_recipient_of_the_searched_connections(conn):
    other = ConnectionFactory(provider="snappy")
    for n in range(4):
        mirror(conn if n % 2 else other, n)
    MirroredRecipient.objects.filter(email="person3@example.com").update(gone_at=timezone.now())
    assert found("") == {"person0@example.com", "person1@example.com", "person2@example.com"}
    assert found("   ", connection=conn) == {"person1@example.com"}


def test_the_pages_of_a_search_are_its_results_cut_in_order(conn):
    for n in range(8):
        mirror(conn, n, first_name="Pat", last_name=f"Page{7 - n}")
    everyone = found_in_order("pat")
    pages = [
        recipient_search_page(query="pat", connections=[conn], page=str(n), per_page=3)
        for n in (1, 2, 3)
    ]
    assert [r.email for p in pages for r in p.rows] == everyone
    assert {(p.count, p.num_pages, p.capped) for p in pages} == {(8, 3, False)}


def test_a_query_is_cleaned_of_control_characters_and_capped():
    assert search_query_clean("  zoë\x00 \t müller\u202e ") == "zoë müller\u202e"
    assert len(search_query_clean("x" * 5000)) == 200


def test_a_query_with_a_nul_character_gets_a_message_not_a_search(support_client, conn):
    """No keyboard or clipboard types NUL (only a made-up address holds one): every view
    refuses it alike (dashboard.core.middleware); a control character is dropped."""
    mirror(conn, 1, first_name="Zoë", email="zoe@example.com")
    mirror(conn, 2, first_name="Anna", email="anna@example.com")
    response = support_client.get("/recipients/?q=zo%00e", headers=HTMX_RESULTS)
    assert response.status_code == 400
    assert "contained a NUL character" in response.content.decode()
    body = support_client.get("/recipients/?q=zo%07e", headers=HTMX_RESULTS).content.decode()
    assert "zoe@example.com" in body and "anna@example.com" not in body


def test_results_are_paginated_with_the_total_and_link_to_each_person(support_client, conn):
    for n in range(30):
        mirror(conn, n, last_name=f"Pager{n:02d}", first_name="Pat")
    body = support_client.get(f"/connections/{conn.pk}/recipients/?q=pat").content.decode()
    assert "30 recipients match “pat”" in body
    assert "page 1 of 2" in body
    assert body.count('href="/connections/') >= 25
    assert f'href="/connections/{conn.pk}/recipients/{0:024x}/"' in body
    assert "?q=pat&amp;page=2" in body
    body = support_client.get(f"/connections/{conn.pk}/recipients/?q=pat&page=2").content.decode()
    assert "Pager29" in body and "Pager00" not in body


def test_the_box_searches_as_you_type_and_keeps_the_url_shareable(support_client, conn):
    body = support_client.get("/recipients/?q=zo%C3%AB").content.decode()
    assert 'hx-trigger="input changed delay:300ms, search"' in body
    assert 'hx-push-url="true"' in body
    assert 'hx-target="#results"' in body
    assert 'value="zoë"' in body  # a bookmarked search opens filled in


def test_an_htmx_search_answers_with_the_results_only(support_client, conn):
    mirror(conn, 1, first_name="Zoë", last_name="Müller")
    response = support_client.get("/recipients/?q=zoe", headers=HTMX_RESULTS)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="results">')
    assert "<html" not in body and "Zoë" in body


def test_the_page_shows_each_mirrors_age_and_a_refresh_button(support_client, conn):
    conn.mirror_refreshed_at = timezone.now() - timedelta(hours=3)
    conn.save()
    mirror(conn, 1)
    body = support_client.get("/recipients/").content.decode()
    assert "Acme RedFlag" in body and "1 recipient" in body and "3\xa0hours ago" in body
    assert f'action="/connections/{conn.pk}/refresh/"' in body
    assert "Refresh now" in body


def test_refresh_now_starts_a_pull_and_returns_to_the_search_showing_progress(
    support_client, conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():  # the job is queued after the commit
        response = support_client.post(
            f"/connections/{conn.pk}/refresh/", {"next": "/recipients/?q=zoe"}
        )
    assert response.status_code == 302 and response["Location"] == "/recipients/?q=zoe"
    body = support_client.get("/recipients/?q=zoe").content.decode()
    assert "Refreshing…" in body
    assert 'hx-trigger="every 2s"' in body


def test_refresh_now_ignores_a_next_address_on_another_site(support_client, conn):
    response = support_client.post(
        f"/connections/{conn.pk}/refresh/", {"next": "https://evil.example.com/"}
    )
    assert response["Location"].startswith("/jobs/")


@pytest.mark.parametrize("next_url", ["recipients", "overview", "?q=zoe"])
def test_refresh_now_ignores_a_next_that_is_not_an_address_on_this_site(
    support_client, conn, next_url
):
    """A word is not a path (``redirect`` took it for a URL name: NoReverseMatch, a 500)."""
    response = support_client.post(f"/connections/{conn.pk}/refresh/", {"next": next_url})
    assert response.status_code == 302 and response["Location"].startswith("/jobs/")


def test_progress_polling_stops_and_reloads_once_the_refresh_has_ended(support_client, conn):
    job = SyncJobFactory(connection=conn, kind="pull", status="running")
    headers = {"HX-Request": "true", "HX-Target": "mirror-status"}
    response = support_client.get("/recipients/", headers=headers)
    assert response.status_code == 200 and "Refreshing…" in response.content.decode()
    job.status = "succeeded"
    job.save()
    response = support_client.get("/recipients/", headers=headers)
    assert response.status_code == 286
    assert "job-finished" in response["HX-Trigger"]


def test_the_search_page_makes_five_queries_for_3_25_or_30_results(
    support_client, conn, django_assert_num_queries
):
    """No query per row shown, none for the total: the session (none when Redis caches it),
    the user, their permissions and roles (RoleBackend), the connections with their running
    refresh, one page of matches counted with it."""
    queries = 4 + session_queries()
    other = ConnectionFactory(provider="snappy")
    for n in range(3):
        mirror(conn, n, first_name="Few")
    for n in range(3, 28):
        mirror(other if n % 2 else conn, n, first_name="Many")
    for n in range(28, 58):
        mirror(other if n % 2 else conn, n, first_name="Pages")
    support_client.get("/recipients/?q=few")  # warm the mirror count cache
    with django_assert_num_queries(queries):
        support_client.get("/recipients/?q=few")
    with django_assert_num_queries(queries):
        support_client.get("/recipients/?q=many")
    with django_assert_num_queries(queries):
        body = support_client.get("/recipients/?q=pages").content.decode()
    assert "30 recipients match “pages”" in body and "page 1 of 2" in body
    assert "Support" in body  # the role in the header, read with the permissions


def test_every_naughty_string_is_a_harmless_query(support_client, conn):
    """No 500 for any string of the Big List of Naughty Strings; what is echoed is escaped."""
    mirror(conn, 1, first_name="<script>alert(0)</script>", last_name="Naughty")
    strings = json.loads(BLNS.read_text())
    for text in strings:
        path = "/recipients/?q=" + quote(text, safe="")
        response = support_client.get(path, headers=HTMX_RESULTS)
        assert response.status_code == 200, text
        cleaned = search_query_clean(text)
        if cleaned:
            assert escape(cleaned) in response.content.decode(), text
    body = support_client.get("/recipients/?q=%3Cscript%3Ealert(0)").content.decode()
    assert "<script>alert(0)</script>" not in body
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in body  # the match, escaped
    assert 'value="&lt;script&gt;alert(0)"' in body  # the box, escaped


def test_a_campaign_connection_has_no_recipient_pages(support_client):
    campaigns = ConnectionFactory(provider="parcelvoy")
    assert support_client.get(f"/connections/{campaigns.pk}/recipients/").status_code == 404


def test_a_refresh_in_progress_links_to_its_job_on_both_search_pages(support_client, conn):
    """Read with the connections on the all-connections page, by a query of its own on one
    connection's page: the same link either way, to the oldest pull still running."""
    older = SyncJobFactory(connection=conn, kind="pull", status="running")
    SyncJobFactory(connection=conn, kind="pull", status="queued")
    SyncJobFactory(connection=conn, kind="push", status="running")  # not a refresh
    for path in ("/recipients/", f"/connections/{conn.pk}/recipients/"):
        body = support_client.get(path).content.decode()
        assert f'<a href="/jobs/{older.pk}/">job {older.pk}</a>' in body, path
        assert body.count("Refreshing…") == 1, path


def test_like_wildcards_and_escapes_in_a_query_are_plain_characters(conn):
    mirror(conn, 1, first_name="Ann", last_name="O_Neil", email="a_b@example.com")
    mirror(conn, 2, first_name="Bob", last_name="Oxneil", email="axb@example.com")
    mirror(conn, 3, first_name="Cy", last_name="Per%cent", email="c%d@example.com")
    assert found("a_b") == {"a_b@example.com"}
    assert found("o_n") == {"a_b@example.com"}
    assert found("%") == set()
    assert found("c%") == {"c%d@example.com"}
    assert found("r%c") == {"c%d@example.com"}
    assert found("_") == set()
    assert found("\\") == set()
    assert found("\\%") == set()


def test_no_connection_to_search_is_an_empty_page_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        page = recipient_search_page(query="anyone", connections=[], page="3", per_page=25)
    assert (page.rows, page.count, page.number, page.capped) == ([], 0, 1, False)


def test_the_searchable_connections_are_read_afresh_each_time_with_their_running_pull():
    redflag = ConnectionFactory(provider="redflag")
    snappy = ConnectionFactory(provider="snappy")
    ConnectionFactory(provider="parcelvoy")
    ConnectionFactory(provider="redflag", is_active=False)
    listed = searchable_connection_list(with_running_pull=True)
    assert {c.pk for c in listed} == {redflag.pk, snappy.pk}
    assert {c.pk for c in listed} == set(searchable_connections().values_list("pk", flat=True))
    assert [getattr(c, "running_pull_id") for c in listed] == [None, None]  # noqa: B009
    assert {c.name for c in listed} == {redflag.name, snappy.name}
    SyncJobFactory(connection=redflag, kind=JobKind.PUSH, status=JobStatus.RUNNING)
    SyncJobFactory(connection=redflag, kind=JobKind.PULL, status=JobStatus.SUCCEEDED)
    pull = SyncJobFactory(connection=redflag, kind=JobKind.PULL, status=JobStatus.QUEUED)
    newer = ConnectionFactory(provider="snappy")
    listed = searchable_connection_list(with_running_pull=True)
    running = {c.pk: getattr(c, "running_pull_id") for c in listed}  # noqa: B009
    assert running == {redflag.pk: pull.pk, snappy.pk: None, newer.pk: None}
    assert not hasattr(searchable_connection_list()[0], "running_pull_id")


def test_the_sql_the_benchmark_explains_is_the_page_s(conn):
    from django.db import connection as db

    from dashboard.recipients.selectors import search_page_sql

    for n in range(3):
        mirror(conn, n)
    sql, params = search_page_sql(query="first", connection_ids=[conn.pk], per_page=2)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    page = recipient_search_page(query="first", connections=[conn], page=None, per_page=2)
    assert [row[:-1] for row in rows] == [tuple(row[:-1]) for row in page.rows]
    assert rows[0][-1] == page.count == 3


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("EMP-00012", "mirror_external_id_prefix"),
        ("emma.person12", "email_lower_%_like"),
        ("person12", "mirror_name_search_trgm"),
        ("em", "mirror_name_search_trgm"),
        ("+44 7911 100012", "mirror_phone_digits_trgm"),
        ("r12", "mirror_remote_id_unique"),
    ],
)
def test_on_postgresql_each_condition_of_the_search_is_served_by_an_index(
    postgresql, conn, query, index
):
    """Each condition of the search can be read through an index, so PostgreSQL combines
    them (a bitmap OR) instead of reading the mirror: an external id prefix through the
    ``varchar_pattern_ops`` B-tree, not the trigram index (whose lists for "  e" and " em"
    hold every "EMP-…" id); a short name word through the trigram index (a word start is a
    trigram). (The plans at 100,000 recipients: ``bench/lookup.py --explain``.)"""
    from django.db import connection as db

    MirroredRecipient.objects.bulk_create(
        MirroredRecipient(
            connection=conn,
            remote_id=f"r{n}",
            external_id=f"EMP-{n:06d}",
            email=f"emma.person{n}@example.com",
            email_lower=f"emma.person{n}@example.com",
            name_search=f"emma person{n}",
            phone_digits=f"447911{n:06d}",
        )
        for n in range(300)
    )
    with db.cursor() as cursor:
        cursor.execute(f"ANALYZE {MirroredRecipient._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")  # 300 rows: make it choose an index
    # The condition alone: with the live-recipients filter, the partial index of a
    # connection's live recipients answers best for a mirror this small.
    condition = recipient_match(query=query, connection_ids=[conn.pk])
    plan = MirroredRecipient.objects.filter(condition).explain()
    prefix, _, suffix = index.partition("%")
    assert any(prefix in line and suffix in line for line in plan.splitlines()), plan
    assert "Seq Scan" not in plan, plan
    if index == "mirror_external_id_prefix":
        assert "mirror_external_id_trgm" not in plan, plan
        assert found("EMP-00012") == {f"emma.person{n}@example.com" for n in range(120, 130)}
