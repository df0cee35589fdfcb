"""factory_boy factories for the models tests need."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.utils import timezone

from dashboard.accounts.services import roles_ensure
from dashboard.imports.models import Import
from integrations.crypto import SealedSecret
from integrations.models import Connection, Environment, MirroredRecipient, SyncItem, SyncJob

PASSWORD = "correct-horse-battery-staple"


class ModelFactory[M](factory.django.DjangoModelFactory[M]):
    """A factory whose call, ``XFactory(...)``, is typed as returning the model it creates."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # factory_boy's metaclass ``__call__`` returns ``create()``'s model instance, but it is
        # untyped, so mypy takes the call for the factory class's own constructor.
        def __new__(cls, **kwargs: Any) -> M:  # type: ignore[misc]
            ...


class UserFactory(ModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(user: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        # factory_boy calls a post-generation hook with the created user, not the factory.
        if extracted:
            if not Group.objects.filter(name=extracted).exists():
                roles_ensure()  # a transactional test flushed the migration's groups
            user.groups.set([Group.objects.get(name=extracted)])
        if create:
            user.save()


class ConnectionFactory(ModelFactory[Connection]):
    """A connection; ``secret`` is a plaintext factory argument, sealed on build."""

    class Meta:
        model = Connection
        exclude = ("plain_secret",)

    name = factory.Sequence(lambda n: f"Connection {n}")
    provider = "redflag"
    environment = Environment.STAGING
    base_url = "https://api.example.com"
    plain_secret = factory.Sequence(lambda n: f"tok_{n:04d}_factory_generated_value")
    secret = factory.LazyAttribute(lambda c: SealedSecret.seal(c.plain_secret))
    secret_hint = factory.LazyAttribute(lambda c: c.plain_secret[-4:])
    options = factory.Dict({})


class SyncJobFactory(ModelFactory[SyncJob]):
    """A push job on a fresh connection; set ``status`` and the counts as the test needs."""

    class Meta:
        model = "integrations.SyncJob"

    connection = factory.SubFactory(ConnectionFactory)
    connection_name = factory.LazyAttribute(lambda j: j.connection.name if j.connection else "Gone")
    provider = factory.LazyAttribute(lambda j: j.connection.provider if j.connection else "redflag")
    kind = "push"
    status = "queued"
    source = "page"
    started_by_name = "ada"


class SyncItemFactory(ModelFactory[SyncItem]):
    class Meta:
        model = "integrations.SyncItem"

    job = factory.SubFactory(SyncJobFactory)
    seq = factory.Sequence(lambda n: n)
    identifier = factory.Sequence(lambda n: f"person{n}@example.com")
    operation = "create"
    payload = factory.LazyAttribute(lambda i: {"email": i.identifier})
    status = "pending"


class ImportFactory(ModelFactory[Import]):
    """An uploaded CSV import with a two-column header; its file holds just that header."""

    class Meta:
        model = "imports.Import"

    connection = factory.SubFactory(ConnectionFactory)
    file = factory.django.FileField(filename="people.csv", data=b"email,firstName\r\n")
    original_name = "people.csv"
    size = 17
    encoding = "utf-8"
    delimiter = ","
    header = factory.LazyFunction(lambda: ["email", "firstName"])
    mapping = factory.LazyFunction(
        lambda: [
            {"path": "email", "confidence": 100, "reason": "same name"},
            {"path": "firstName", "confidence": 100, "reason": "same name"},
        ]
    )


def mirrored(connection: Connection, email: str, **record: Any) -> MirroredRecipient:
    """A live mirrored recipient with ``email`` (its remote id ``rid-<email>``) holding
    ``record``, seen an hour ago: earlier than any preview a test builds next."""
    return MirroredRecipient.objects.create(
        connection=connection,
        remote_id=f"rid-{email}",
        email=email,
        email_lower=email.lower(),
        record={"_id": f"rid-{email}", "email": email, **record},
        last_seen_at=timezone.now() - timedelta(hours=1),
    )
