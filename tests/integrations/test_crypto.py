"""Credentials are encrypted at rest, rotate between keys, and fail safe when unreadable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from integrations.crypto import SealedSecret, UnreadableSecret
from integrations.models import Connection
from tests.factories import ConnectionFactory

SECRET = "rf_live_5ecret_T0ken_value_9876"


def raw_secret_column(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT secret FROM connections_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_database_row_holds_no_plaintext_secret():
    conn = ConnectionFactory(plain_secret=SECRET)
    raw = raw_secret_column(conn.pk)
    assert SECRET not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    stored = Connection.objects.get(pk=conn.pk).secret
    assert stored is not None and stored.reveal() == SECRET


def test_a_sealed_secret_never_prints_its_value(settings):
    sealed = SealedSecret.seal(SECRET)
    assert SECRET not in repr(sealed)
    assert SECRET not in str(sealed)
    assert SECRET not in f"{sealed}"


@pytest.mark.django_db
def test_plaintext_cannot_be_assigned_to_the_secret_field():
    conn = ConnectionFactory()
    conn.secret = SECRET  # type: ignore[assignment]  # the wrong type is what is tested
    with pytest.raises(TypeError):
        conn.save()


@pytest.mark.django_db
def test_rotation_keeps_every_secret_readable_with_only_the_new_key(settings):
    old_key = settings.CREDENTIAL_KEYS[0]
    secrets = [f"secret-number-{i}-abcdefgh" for i in range(3)]
    conns = [ConnectionFactory(plain_secret=s) for s in secrets]
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [new_key, old_key]
    call_command("rotate_credentials", verbosity=0)
    settings.CREDENTIAL_KEYS = [new_key]
    for conn, secret in zip(conns, secrets, strict=True):
        stored = Connection.objects.get(pk=conn.pk).secret
        assert stored is not None and stored.reveal() == secret


@pytest.mark.django_db
def test_rotation_reports_unreadable_secrets_and_leaves_them_untouched(settings, capsys):
    conn = ConnectionFactory(plain_secret=SECRET)
    before = raw_secret_column(conn.pk)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SystemExit):
        call_command("rotate_credentials")
    out = capsys.readouterr()
    assert conn.name in out.out + out.err
    assert raw_secret_column(conn.pk) == before


@pytest.mark.django_db
def test_a_removed_key_shows_credentials_unreadable_never_a_500(settings, admin_client):
    conn = ConnectionFactory(plain_secret=SECRET)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    stored = Connection.objects.get(pk=conn.pk).secret
    assert stored is not None
    with pytest.raises(UnreadableSecret):
        stored.reveal()
    for url in ("/", "/connections/", f"/connections/{conn.pk}/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "Credentials unreadable — re-enter them" in response.content.decode()


@pytest.mark.django_db
def test_re_entering_an_unreadable_secret_makes_it_readable_again(settings, admin_client):
    conn = ConnectionFactory(plain_secret=SECRET)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    response = admin_client.post(
        f"/connections/{conn.pk}/",
        {
            "name": conn.name,
            "environment": "staging",
            "base_url": conn.base_url,
            "secret": "a-brand-new-token-1234",
        },
    )
    assert response.status_code == 302
    stored = Connection.objects.get(pk=conn.pk).secret
    assert stored is not None and stored.reveal() == "a-brand-new-token-1234"
