import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.crypto import SealedSecret, UnreadableSecret, rotate
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the first key of CREDENTIAL_KEYS. "
        "Afterwards the other keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().exclude(secret=None):
                assert connection.secret is not None  # excluded by the query
                try:
                    token = rotate(connection.secret.token)
                except UnreadableSecret:
                    unreadable.append(connection.name)
                    continue
                Connection.objects.filter(pk=connection.pk).update(secret=SealedSecret(token))
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} credential(s) with the first key.")
        if unreadable:
            self.stderr.write(
                "These connections' credentials cannot be read with any configured key and "
                "were left as they are (re-enter them on the connection page): "
                + ", ".join(sorted(unreadable))
            )
            sys.exit(1)
