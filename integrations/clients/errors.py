"""Typed errors raised by the provider clients.

Every transport failure and every error reply is turned into one of these by the clients'
single choke point (``BaseClient._request``), so callers never see an ``httpx`` exception or a
vendor payload. ``message`` is plain words, safe to show a user: it is built by the client and
scrubbed of the connection's secrets before the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


class ProviderError(Exception):
    """Base of every error a provider client raises.

    ``retryable`` tells a caller (a sync job, a Celery task) whether trying again later may
    succeed. ``outcome_unknown`` is true when the request may have reached the provider and
    taken effect although no reply proves it (a read timeout or a dropped connection on a
    write): the caller must check before repeating it. ``attempts`` is how many HTTP requests
    the client made for this call. ``after_unknown_outcome`` is true when an earlier attempt
    of this call may have acted: a NotFound on a repeated DELETE then means "already done".
    """

    default_message = "The provider returned an error."
    default_retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | int | None = None,
        retryable: bool | None = None,
        outcome_unknown: bool = False,
        attempts: int = 0,
    ) -> None:
        self.message = message or self.default_message
        self.provider = provider
        self.status = status
        self.code = code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.outcome_unknown = outcome_unknown
        self.attempts = attempts
        self.after_unknown_outcome = False
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status={self.status!r}, "
            f"code={self.code!r}, message={self.message!r}{self._repr_extra()})"
        )

    # Keep keyword attributes when pickled (Celery results, logging).
    def __reduce__(
        self,
    ) -> tuple[Callable[..., ProviderError], tuple[type[ProviderError], dict[str, Any]]]:
        return (_rebuild_error, (type(self), self.__dict__.copy()))


def _rebuild_error(cls: type[ProviderError], state: dict[str, Any]) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class Unauthorized(ProviderError):
    default_message = "The provider rejected the credentials."


class UnknownApiKey(Unauthorized):
    """The provider does not know the key at all (Parcelvoy answers 404 with code 6000).

    A subclass of ``Unauthorized`` so "bad credentials" handling catches it, and distinct from
    ``NotFound`` so an unknown key is never reported as an unknown campaign.
    """

    default_message = "The provider does not recognise this API key."


class Forbidden(ProviderError):
    default_message = "The credentials are valid but not allowed to do this."


class NotFound(ProviderError):
    default_message = "The record was not found at the provider."


class Conflict(ProviderError):
    default_message = "The provider already has a record with the same identifying data."


class AmbiguousMatch(ProviderError):
    """A lookup by identifiers led to more than one record; none was chosen.

    ``candidates`` holds the remote ids found, so a person can decide.
    """

    default_message = "Several records at the provider match; none was chosen."

    def __init__(
        self, message: str | None = None, *, candidates: Iterable[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.candidates: list[str] = list(candidates)

    def _repr_extra(self) -> str:
        return f", candidates={self.candidates!r}"


class Invalid(ProviderError):
    """The provider (or the client, before sending) refused the data.

    ``field_errors`` maps a field path to messages when the provider names the field.
    """

    default_message = "The provider refused the data as invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        field_errors: Mapping[str, Iterable[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.field_errors: dict[str, list[str]] = {
            str(key): list(values) for key, values in (field_errors or {}).items()
        }

    def _repr_extra(self) -> str:
        return f", field_errors={self.field_errors!r}"


class RateLimited(ProviderError):
    default_message = "The provider is rate limiting requests; try again shortly."
    default_retryable = True

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kw: Any
    ) -> None:
        kw.setdefault("status", 429)
        super().__init__(message, **kw)
        self.retry_after = retry_after

    def _repr_extra(self) -> str:
        return f", retry_after={self.retry_after!r}"


class Unavailable(ProviderError):
    default_message = "The provider is unavailable; try again later."
    default_retryable = True


class ProviderTimeout(ProviderError):
    default_message = "The provider did not answer in time."
    default_retryable = True


class MalformedReply(ProviderError):
    default_message = "The provider sent a reply the client could not understand."
    default_retryable = True


class FieldNotEnabled(ProviderError):
    """A write carried fields the connection has not enabled; nothing was sent."""

    default_message = "Some fields are not enabled for this connection."

    def __init__(self, paths: Iterable[str], message: str | None = None, **kwargs: Any) -> None:
        self.paths: list[str] = sorted(set(paths))
        if message is None:
            message = "These fields are not enabled for this connection: " + ", ".join(self.paths)
        super().__init__(message, **kwargs)

    def _repr_extra(self) -> str:
        return f", paths={self.paths!r}"


class CredentialsMissing(ProviderError):
    default_message = "The connection has no credentials; enter them and try again."
