"""Values the provider defines, written by name: Snappy's accounts, named as people know them.

A person page shows a Snappy recipient's accounts by name, and an HR export writes them so;
Snappy takes only account ids (an unknown one is a 422 "Invalid account ids"). A ``Lookup``
turns what a cell says into the value the provider takes, from the provider's own list read
when the preview is built: a name, the value itself (an id written as such), or a name in other
capitals when it fits exactly one entry. Anything else is a cell error that says what exists,
so a name never reaches the provider unresolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integrations.catalogue import Provider
from integrations.importing.cells import CellError

# The fields whose values each provider defines and lists through its API.
LOOKUP_PATHS: Mapping[Provider, frozenset[str]] = {Provider.SNAPPY: frozenset({"accounts"})}
# An unknown name's message lists this many names (each cut to NAME_CHARS), then a count.
SHOWN_NAMES = 10
NAME_CHARS = 60
# Distinct cell values remembered per lookup: an export repeats a handful of names.
MEMO_SIZE = 4096


def lookup_paths(provider: Provider | str) -> frozenset[str]:
    """The paths whose values ``provider`` defines (resolved by name in a preview)."""
    return LOOKUP_PATHS.get(Provider(provider), frozenset())


def provider_name(provider: Provider | str) -> str:
    """Name the provider in a message (``Provider.label``)."""
    return Provider(provider).label


def read_lookup(client: Any, provider: Provider | str, path: str) -> tuple[tuple[str, str], ...]:
    """The ``(name, value)`` pairs ``provider`` lists for ``path``, through its client.

    Raises the client's ``ProviderError`` when the list cannot be read, ``KeyError`` for a
    path the provider does not define.
    """
    if Provider(provider) is Provider.SNAPPY and path == "accounts":
        pairs = []
        for account in client.list_accounts():
            account_id = str(account.get("id") or account.get("_id") or "")
            if account_id:
                pairs.append((str(account.get("name") or account_id), account_id))
        return tuple(pairs)
    raise KeyError(path)


def _fold(text: str) -> str:
    """A name compared without case or repeated spaces."""
    return " ".join(text.split()).casefold()


def _quoted(name: str) -> str:
    return f"“{name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + '…'}”"


class Lookup:
    """Resolve cell values to the provider's values for one field.

    In order: the value itself (an id is unambiguous); a name written exactly (several
    entries of that name: an error naming their ids); a name in other capitals or spacing
    that fits one entry. A name in other capitals that fits several entries (names that
    differ only in capitals) is an error naming them, as is an unknown name (with the names
    that exist).
    """

    def __init__(
        self, pairs: Iterable[tuple[str, str]], *, label: str, provider: Provider | str
    ) -> None:
        self.names: dict[str, str] = {}  # value → name, in the provider's order
        self.exact: dict[str, list[str]] = {}  # name → its values
        self.folded: dict[str, list[str]] = {}  # folded name → its values
        for name, value in pairs:
            if value in self.names:
                continue
            self.names[value] = name
            self.exact.setdefault(name.strip(), []).append(value)
            self.folded.setdefault(_fold(name), []).append(value)
        self.label = label.lower()
        self.provider = provider_name(provider)
        self._memo: dict[str, str | CellError | None] = {}

    def resolve(self, item: str) -> str:
        """The value ``item`` names; raises ``CellError`` saying why there is none."""
        found = self._find(item.strip())
        if found is None:
            raise CellError(self._unknown([item.strip()]))
        if isinstance(found, CellError):
            raise found
        return found

    def resolve_list(self, items: Iterable[str]) -> list[str]:
        """The values ``items`` name, each once, in their order; one ``CellError`` for all
        that name none (every unknown name, then each ambiguous one)."""
        values: list[str] = []
        unknown: list[str] = []
        problems: list[str] = []
        for item in items:
            found = self._find(item.strip())
            if found is None:
                unknown.append(item.strip())
            elif isinstance(found, CellError):
                problems.append(str(found))
            elif found not in values:
                values.append(found)
        if unknown:
            problems.insert(0, self._unknown(unknown))
        if problems:
            raise CellError(" ".join(problems))
        return values

    def _find(self, item: str) -> str | CellError | None:
        """What ``item`` resolves to: a value, the error of an ambiguous name, or None."""
        if item in self._memo:
            return self._memo[item]
        found = self._match(item)
        if len(self._memo) < MEMO_SIZE:
            self._memo[item] = found
        return found

    def _match(self, item: str) -> str | CellError | None:
        if item in self.names:
            return item
        exact = self.exact.get(item, [])
        if len(exact) == 1:
            return exact[0]
        if exact:
            return CellError(
                f"{self.provider} has {len(exact)} {self.label} named {_quoted(item)} (ids "
                f"{', '.join(exact)}): write the id of the one you mean."
            )
        folded = self.folded.get(_fold(item), [])
        if len(folded) == 1:
            return folded[0]
        if folded:
            which = ", ".join(f"{_quoted(self.names[v])} ({v})" for v in folded)
            return CellError(
                f"{_quoted(item)} could be any of {self.provider}'s {self.label} {which}, whose "
                f"names differ only in capitals: write the name exactly as {self.provider} "
                "does, or the id."
            )
        return None

    def _unknown(self, items: list[str]) -> str:
        written = " and ".join(_quoted(item) for item in dict.fromkeys(items))
        verb = "is" if len(set(items)) == 1 else "are"
        if not self.names:
            return f"{written} {verb} not among {self.provider}'s {self.label}: it lists none."
        names = list(dict.fromkeys(self.names.values()))
        shown = ", ".join(_quoted(name) for name in names[:SHOWN_NAMES])
        more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
        return (
            f"{written} {verb} not among {self.provider}'s {self.label}: {shown}{more}. "
            "Write a name or an id as it lists them."
        )
