"""Make sandbox connections and read the recipient form, for the recipient page tests."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any

from integrations.catalogue import catalogue
from integrations.clients import client_for
from integrations.models import Connection, FieldSetting
from tests.factories import ConnectionFactory


def sandbox_connection(sandbox, provider: str, *, enable: tuple[str, ...] = (), **kwargs: Any):
    creds = sandbox.credentials[provider]
    options = {"company_id": creds["company_id"]} if provider == "snappy" else {}
    conn = ConnectionFactory(
        provider=provider,
        base_url=f"{sandbox.url}/{provider}",
        plain_secret=kwargs.pop("secret", creds["token" if provider == "redflag" else "api_key"]),
        options=options,
        **kwargs,
    )
    for path in enable:
        custom = path.startswith(("tags.", "recipientCustomFields."))
        FieldSetting.objects.create(connection=conn, path=path, enabled=True, custom=custom)
    return conn


def unique_email(prefix: str = "person") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"


def sandbox_writer(sandbox, connection: Connection):
    """A client that may write every field: sets up remote records the way HR data arrives."""
    provider = connection.provider
    creds = sandbox.credentials[provider]
    enabled = {spec.path for spec in catalogue(provider)} | {
        "tags.z_team",
        "tags.z_costCentre",
        "tags.z_badge",  # set at the provider, unknown to the connection's field settings
        "recipientCustomFields.shirtSize",
        "recipientCustomFields.diet",
    }
    settings = {"company_id": creds["company_id"]} if provider == "snappy" else {}
    return client_for(
        provider,
        base_url=connection.base_url,
        credentials=creds,
        settings=settings,
        enabled_fields=enabled,
        rate_limit=None,
    )


def writes(sandbox, provider: str) -> int:
    """How many writes (PUT, PATCH, POST, DELETE) the sandbox has answered for ``provider``."""
    return sum(
        count
        for key, count in sandbox.counters()["requests"].items()
        if key.startswith(provider + " ")
        and key.split(" ")[1] in {"PUT", "PATCH", "POST", "DELETE"}
    )


class _FormReader(HTMLParser):
    """Collect what a browser would submit from one form of a page."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._option: dict[str, str] | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str | None, value: str) -> None:
        if name:
            self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._add(a.get("name"), a.get("value", "on"))
            elif kind not in {"submit", "button", "image", "file"}:
                self._add(a.get("name"), a.get("value", ""))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a.get("name"), None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self._add(self._select, value)
                self._select_chosen = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._add(self._select, self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self._add(self._textarea, text[1:] if text.startswith("\n") else text)
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def form_data(body: str, form_id: str = "recipient-form") -> dict[str, list[str]]:
    """The values a browser would post from the form ``form_id`` of ``body``, as rendered."""
    reader = _FormReader(form_id)
    reader.feed(body)
    assert reader.values, f"no form #{form_id} on the page"
    return reader.values


def edited(data: dict[str, list[str]], **changes: Any) -> dict[str, list[str]]:
    """``data`` with some fields changed (a list for several values, None to leave out)."""
    result = dict(data)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value if isinstance(value, list) else [value]
    return result
