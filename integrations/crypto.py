"""Encryption at rest for provider credentials.

``CREDENTIAL_KEYS`` holds several Fernet keys: the first encrypts, all decrypt, so a key can
be rotated in (prepend it, run ``rotate_credentials``) and the old one removed afterwards.
A stored secret is exposed to Python as a :class:`SealedSecret`, which shows nothing when
printed, logged or rendered; only :meth:`SealedSecret.reveal` decrypts, where a client is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class UnreadableSecret(Exception):
    """The stored secret cannot be decrypted with any configured key."""

    def __init__(self) -> None:
        super().__init__("The stored credentials cannot be decrypted with the configured keys.")


def _cipher() -> MultiFernet:
    # Built per call (cheap) rather than at import time: settings may change in tests, and
    # nothing reads settings at import time.
    return MultiFernet([Fernet(key) for key in settings.CREDENTIAL_KEYS])


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise UnreadableSecret() from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first key (raises UnreadableSecret if no key reads it)."""
    try:
        return _cipher().rotate(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise UnreadableSecret() from None


class SealedSecret:
    """An encrypted secret that never shows its value unless asked with :meth:`reveal`."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def seal(cls, plaintext: str) -> SealedSecret:
        return cls(encrypt(plaintext))

    def reveal(self) -> str:
        return decrypt(self.token)

    @property
    def readable(self) -> bool:
        try:
            self.reveal()
        except UnreadableSecret:
            return False
        return True

    def __repr__(self) -> str:
        return "<SealedSecret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


if TYPE_CHECKING:
    # django-stubs makes a field generic over the types assigned and read; Django's own field
    # classes cannot be subscripted at run time.
    _SecretTextField = models.TextField[SealedSecret | None, SealedSecret | None]
else:
    _SecretTextField = models.TextField


class EncryptedSecretField(_SecretTextField):
    """A text column holding a Fernet token; the attribute is a :class:`SealedSecret`.

    Only a SealedSecret (or None) can be assigned, so plaintext can never reach the column by
    accident.
    """

    description = "An encrypted secret"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> SealedSecret | None:
        return SealedSecret(value) if value else None

    def to_python(self, value: Any) -> SealedSecret | None:
        if value is None or isinstance(value, SealedSecret):
            return value
        if value == "":
            return None
        return SealedSecret(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, SealedSecret):
            return value.token
        raise TypeError("Assign SealedSecret.seal(plaintext) to an EncryptedSecretField.")

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata) writes the ciphertext, never the plaintext.
        value = self.value_from_object(obj)
        return value.token if isinstance(value, SealedSecret) else ""
