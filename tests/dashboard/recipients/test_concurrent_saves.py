"""Two people saving the same recipient at once: one save wins, the other sees the conflict.

Real parts: two signed-in clients in two threads (each with its own database connection),
the sandbox over HTTP with some latency so both saves are in flight together, and the
database the suite runs on (SQLite by default, PostgreSQL with ``DATABASE_URL``).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from dashboard.audit.models import AuditEvent
from tests.dashboard.recipients.helpers import edited, form_data, writes
from tests.dashboard.recipients.test_edit import edit_url, open_form

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_together(posts: dict[str, tuple[Client, str, dict[str, list[str]]]]) -> dict[str, Any]:
    """POST every form at the same moment, each from its own thread; the responses by name."""
    barrier = threading.Barrier(len(posts))
    responses: dict[str, Any] = {}
    errors: list[BaseException] = []

    def post(name: str, client: Client, url: str, data: dict[str, list[str]]) -> None:
        try:
            barrier.wait(timeout=10)
            responses[name] = client.post(url, data)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=post, args=(name, *args)) for name, args in posts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


def test_two_concurrent_saves_save_one_and_show_the_other_the_conflict_losing_nothing(
    admin_user, support_user, redflag, remote, fetch, sandbox
):
    _, row = remote(redflag, department="Sales")
    ada, sam = _signed_in(admin_user), _signed_in(support_user)
    url = edit_url(row)
    ada_form = edited(open_form(ada, row), firstName="Ada-Zoë")
    sam_form = edited(open_form(sam, row), lastName="Sam-Müller")
    # Each provider call takes a while, so both saves read the live record before either
    # writes unless saves of one record are serialised.
    sandbox.configure(faults={"latency_ms": 150})
    before = writes(sandbox, "redflag")

    responses = _post_together({"ada": (ada, url, ada_form), "sam": (sam, url, sam_form)})

    assert sorted(r.status_code for r in responses.values()) == [302, 409]
    assert writes(sandbox, "redflag") == before + 1  # the loser sent nothing
    winner = next(name for name, r in responses.items() if r.status_code == 302)
    loser = "sam" if winner == "ada" else "ada"
    live = fetch(redflag, row.remote_id)
    if winner == "ada":
        assert (live.first_name, live.last_name) == ("Ada-Zoë", "Müller")
    else:
        assert (live.first_name, live.last_name) == ("Zoë", "Sam-Müller")
    body = responses[loser].content.decode()
    assert "RedFlag changed this recipient after you opened the form" in body
    assert AuditEvent.objects.filter(action="recipient.updated").count() == 1

    # Nothing is lost: the conflict page kept the loser's change; "Keep mine" sends only it.
    sandbox.configure(faults={"latency_ms": 0})
    client = ada if loser == "ada" else sam
    again = form_data(body)
    response = client.post(url, {**again, "decision": ["mine"]})
    assert response.status_code == 302
    live = fetch(redflag, row.remote_id)
    assert (live.first_name, live.last_name) == ("Ada-Zoë", "Sam-Müller")


def test_concurrent_saves_of_two_different_recipients_are_both_saved(
    admin_user, support_user, redflag, remote, fetch, sandbox
):
    """The lock is per record: another person's save is never refused or lost by it."""
    _, first = remote(redflag)
    _, second = remote(redflag)
    ada, sam = _signed_in(admin_user), _signed_in(support_user)
    ada_form = edited(open_form(ada, first), firstName="Ada-Zoë")
    sam_form = edited(open_form(sam, second), firstName="Sam-Zoë")
    sandbox.configure(faults={"latency_ms": 50})

    responses = _post_together(
        {
            "ada": (ada, edit_url(first), ada_form),
            "sam": (sam, edit_url(second), sam_form),
        }
    )

    assert [responses[name].status_code for name in ("ada", "sam")] == [302, 302]
    assert fetch(redflag, first.remote_id).first_name == "Ada-Zoë"
    assert fetch(redflag, second.remote_id).first_name == "Sam-Zoë"
