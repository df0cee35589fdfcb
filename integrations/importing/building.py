"""Previewing batches of rows (cleaning, then comparing with the mirror), in a helper
process beside the caller.

Cleaning the cells (phone numbers above all) and comparing each row with the recipient it
names are most of a preview's work, and need nothing but the cells, the mapping and the
mirrored records of the batch: the caller asks the database for those when it reads the
batch (a row's identifier is its cell as written, known before the row is cleaned), and the
helper does the rest while the caller stores the batches before. The helper never touches the
database; it is started from a fork server (``forkserver``), so it shares no connection,
lock or thread with the caller.

Results come back in the order of the batches. The helper takes batches as it frees up, and
the caller previews one itself whenever the next to store is nobody's yet or still with the
helper, so neither waits for the other. Each row's result is the same whoever previews it
(``RowPreviewer`` is a pure function of the cells, the mapping and the records; the caller's
language, which country names are read in, is the helper's too).
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import multiprocessing.process as mp_process
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import orjson

from integrations.catalogue import FieldSpec, Provider
from integrations.clients.models import from_provider
from integrations.importing.cells import RowBuilder
from integrations.importing.compare import INVALID, classify

logger = logging.getLogger(__name__)

# (identifier path, lower-cased identifier) → (remote id, provider record) of the live
# mirrored recipients a batch names; the record as the database gave it (JSON text on
# PostgreSQL, decoded elsewhere).
Mirror = dict[tuple[str, str], tuple[str, Any]]
# One row as previewed, in a tuple (a fraction of a dataclass's pickling cost across the
# process boundary): kind, then payload, errors and changes as JSON text, identifier, remote
# id, the cells' own errors (a duplicate of an earlier row keeps those), and the cells'
# warnings as JSON text.
Previewed = tuple[str, str, str, str, str, str, dict[str, str], str]

# Batches given to the helper and not yet built; past this the caller builds the next itself.
HELPER_QUEUE = 4
# Batches read ahead of the one being written: bounds the memory a large file takes.
LOOKAHEAD = 10
# The caller's switch interval while helpers run (seconds; Python's default is 0.005). A
# batch and its result cross the pipe in chunks, each moved by one of the pool's threads in
# the caller, which waits for the caller's main thread to let go of the interpreter lock
# after every chunk: at the default interval the helper sat idle between batches.
SWITCH_INTERVAL = 0.001


@dataclass(frozen=True)
class BuilderSpec:
    """What a ``RowBuilder`` is made from, sent once to the helper process."""

    provider: Provider
    fields: tuple[FieldSpec, ...]
    paths: tuple[str, ...]
    width: int
    default_region: str | None
    language: str | None = None
    # Per column, how its dates are read ("" = any unambiguous spelling); see ``dates``.
    date_orders: tuple[str, ...] = ()
    # (path, value): what every row gets for a field the file lacks or leaves empty.
    constants: tuple[tuple[str, str], ...] = ()
    # (path, ((name as written, value sent), …)): values the provider defines, by name.
    lookups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # (path, message): a provider list that could not be read; every value of the field is
    # refused with the message rather than sent unchecked.
    unreadable: tuple[tuple[str, str], ...] = ()

    def builder(self) -> RowBuilder:
        return RowBuilder(
            provider=self.provider,
            fields=self.fields,
            paths=self.paths,
            width=self.width,
            default_region=self.default_region,
            constants=self.constants,
            lookups=self.lookups,
            unreadable=self.unreadable,
            date_orders=self.date_orders,
        )


_stdlib_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps_json(value: Any) -> str:
    """JSON text of a preview value: orjson (a tenth of the standard encoder's time on a
    row's payload), the standard encoder for what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _stdlib_dumps(value)


class RowPreviewer:
    """Clean rows and classify each against the recipient it names: create, update (what
    changes), unchanged or invalid (why)."""

    def __init__(self, spec: BuilderSpec) -> None:
        self.spec = spec
        self.builder = spec.builder()

    def identifiers(self, rows: Sequence[Sequence[str]]) -> dict[str, list[str]]:
        """The rows' identifiers by path, for the mirror lookup of their batch."""
        by_path: dict[str, list[str]] = {}
        for cells in rows:
            identifier, path = self.builder.identify(cells)
            if identifier:
                by_path.setdefault(path, []).append(identifier)
        return by_path

    def preview(self, rows: Sequence[Sequence[str]], mirror: Mirror) -> list[Previewed]:
        results = []
        for cells in rows:
            built = self.builder.build(cells)
            kind, payload, changes, errors = INVALID, {}, {}, built.errors
            remote_id = ""
            if not errors:
                key = (built.identifier_path, built.identifier.lower())
                remote_id, record = mirror.get(key, ("", None))
                if isinstance(record, str):
                    record = orjson.loads(record)
                builder = self.builder
                outcome = classify(
                    provider=builder.provider,
                    payload=built.payload,
                    current=dict(from_provider(builder.provider, record).fields)
                    if record
                    else None,
                    paths=builder.paths,
                    enabled=builder.enabled_paths,
                )
                kind, payload, changes, errors = (
                    outcome.kind, outcome.payload, outcome.changes, outcome.errors,
                )  # fmt: skip
            row = (
                kind, dumps_json(payload), dumps_json(errors), dumps_json(changes),
                built.identifier, remote_id, built.errors,
                dumps_json(built.warnings) if built.warnings else "{}",
            )  # fmt: skip
            results.append(row)
        return results


# -- the helper process ------------------------------------------------------------------------

_helper_previewer: RowPreviewer | None = None


def _helper_start(spec: BuilderSpec, caller: int) -> None:
    """Set Django up (country names need its translations) and the helper's builder, and
    watch the caller's process."""
    global _helper_previewer
    threading.Thread(target=_exit_after, args=(caller,), daemon=True).start()
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup(set_prefix=False)
    if spec.language:
        from django.utils import translation

        translation.activate(spec.language)
    _helper_previewer = RowPreviewer(spec)
    # Every batch allocates thousands of dictionaries: spare the collector's passes the
    # objects alive from here on (Django, the app) and run them less often.
    gc.freeze()
    gc.set_threshold(max(gc.get_threshold()[0], 50_000), *gc.get_threshold()[1:])


def _exit_after(caller: int) -> None:
    """End this helper once ``caller`` is gone (killed mid-preview, say). Nothing else would
    tell it: it holds both ends of its work queue, so it never reads an end of file, and the
    fork server it came from stays as long as it does."""
    while True:
        time.sleep(1)
        try:
            os.kill(caller, 0)
        except (ProcessLookupError, PermissionError):  # gone (its number another user's)
            os._exit(1)


def _helper_ready() -> bool:
    """Done once the helper has started: batches go to it from then on."""
    return True


def _helper_preview(
    rows: list[list[str]], mirror: Mirror, date_orders: tuple[str, ...]
) -> list[Previewed]:
    global _helper_previewer
    assert _helper_previewer is not None, "the helper was not started"
    if _helper_previewer.spec.date_orders != date_orders:  # decided after the helper started
        _helper_previewer = RowPreviewer(replace(_helper_previewer.spec, date_orders=date_orders))
    return _helper_previewer.preview(rows, mirror)


# -- the caller's side -------------------------------------------------------------------------

# What starting a helper can raise; the caller then builds every batch itself. AssertionError
# and TypeError are multiprocessing's refusals inside a Celery prefork process, should
# ``_allow_children`` not have lifted them.
HELPER_START_ERRORS = (BrokenProcessPool, RuntimeError, OSError, AssertionError, TypeError)


def _allow_children() -> dict[str, Any]:
    """Let a Celery prefork process start the helper; return what to put back afterwards.

    Celery's prefork pool (the default worker pool, and ``make demo``'s) runs tasks in
    billiard processes, which multiprocessing sees as daemonic, with an authentication key
    of billiard's own type. multiprocessing refuses children to a daemonic process (so that
    none outlives it when it is terminated: the helper ends itself once its caller is gone,
    ``_exit_after``), and cannot hand billiard's key to a new process. So while the helpers
    run, the flag is lifted and the same key is held in multiprocessing's type. (Both live in
    the process's private ``_config``: a started process has no public setter.)
    """
    config: dict[str, Any] = getattr(multiprocessing.current_process(), "_config", {})
    saved = {key: config.get(key, _UNSET) for key in ("daemon", "authkey")}
    config["daemon"] = False
    key_type = getattr(mp_process, "AuthenticationString")  # noqa: B009 (not in typeshed)
    authkey = config.get("authkey")
    if authkey is not None and not isinstance(authkey, key_type):
        config["authkey"] = key_type(bytes(authkey))
    return saved


def _restore_daemon(saved: dict[str, Any]) -> None:
    config: dict[str, Any] = getattr(multiprocessing.current_process(), "_config", {})
    for key, value in saved.items():
        if value is _UNSET:
            config.pop(key, None)
        else:
            config[key] = value


_UNSET = object()


class BatchBuilder[Key]:
    """Preview batches of rows in order, ``helpers`` processes beside the caller (0: none).

    ``lookup`` is the caller's: identifiers by path → the mirror entries they name (a query,
    made when a batch is read). Use as a context manager: leaving it stops the helpers.
    """

    def __init__(
        self,
        spec: BuilderSpec,
        *,
        helpers: int,
        lookup: Callable[[dict[str, list[str]]], Mirror],
    ) -> None:
        self.spec = spec
        self.local = RowPreviewer(spec)
        self.helpers = helpers
        self.lookup = lookup
        self.pool: ProcessPoolExecutor | None = None
        self.ready: Future[bool] | None = None  # the helper has started
        self.submitted = 0
        self.built_by_helpers = 0  # batches, for the log
        self._saved: dict[str, Any] = {}
        self._switch_interval = sys.getswitchinterval()

    def __enter__(self) -> BatchBuilder[Key]:
        if self.helpers > 0:
            self._saved = _allow_children()
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
            self.pool = ProcessPoolExecutor(
                max_workers=self.helpers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_helper_start,
                initargs=(self.spec, os.getpid()),
            )
            try:  # start it now: it sets Django up while the caller prepares
                self.ready = self.pool.submit(_helper_ready)
            except HELPER_START_ERRORS as exc:
                self._give_up(exc)
        return self

    def read_dates(self, date_orders: tuple[str, ...]) -> None:
        """Read each column's dates as ``date_orders`` says (``BuilderSpec.date_orders``),
        here and in the helpers: given once the helpers are starting (the caller reads the
        file's date columns meanwhile), before the first batch."""
        self.spec = replace(self.spec, date_orders=date_orders)
        self.local = RowPreviewer(self.spec)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.helpers > 0:
            _restore_daemon(self._saved)
            sys.setswitchinterval(self._switch_interval)

    def results(
        self, batches: Iterable[tuple[Key, list[list[str]]]]
    ) -> Iterator[tuple[Key, list[list[str]], list[Previewed]]]:
        """Each batch with its rows previewed, in the order given.

        Batches are read (and their mirror entries looked up) up to ``LOOKAHEAD`` ahead of
        the one to store, topped up before each is given back (read only when the caller
        waited, a run of batches already previewed would leave the helper idle). A helper
        takes the earliest batch nobody previews yet whenever it has fewer than
        ``HELPER_QUEUE`` to do (the first one at once, the others once it has started: a
        start takes Django's set-up). The caller previews the next batch to store if no
        helper has it, and, while that one waits for its helper, the earliest batch nobody
        previews yet.
        """
        queue: deque[_Item[Key]] = deque()
        ready = self.ready
        pending = iter(batches)
        exhausted = False
        while True:
            while not exhausted and len(queue) < LOOKAHEAD:
                batch = next(pending, None)
                if batch is None:
                    exhausted = True
                else:
                    key, rows = batch
                    mirror = self.lookup(self.local.identifiers(rows))
                    queue.append(_Item(key, rows, mirror, future=None))
            if ready is not None and (ready.done() or not self.submitted):
                self._feed(queue)
            if not queue:
                return
            if queue[0].writable():
                yield self._result(queue.popleft())
            elif (item := _unbuilt(queue)) is not None:
                item.built = self.local.preview(item.rows, item.mirror)
            else:
                yield self._result(queue.popleft())  # wait for its helper

    def _feed(self, queue: deque[_Item[Key]]) -> None:
        """Give helpers the earliest batches nobody previews, up to ``HELPER_QUEUE`` each."""
        busy = sum(1 for item in queue if item.future is not None and not item.future.done())
        while self.pool is not None and busy < HELPER_QUEUE * self.helpers:
            item = _unbuilt(queue)
            if item is None:
                return
            try:
                item.future = self.pool.submit(
                    _helper_preview, item.rows, item.mirror, self.spec.date_orders
                )
            except HELPER_START_ERRORS as exc:
                self._give_up(exc)
                return
            self.submitted += 1
            busy += 1

    def _result(self, item: _Item[Key]) -> tuple[Key, list[list[str]], list[Previewed]]:
        if item.built is not None:
            return item.key, item.rows, item.built
        if item.future is not None:
            try:
                built = item.future.result()
            except (BrokenProcessPool, CancelledError, OSError) as exc:
                self._give_up(exc)
            else:
                self.built_by_helpers += 1
                return item.key, item.rows, built
        return item.key, item.rows, self.local.preview(item.rows, item.mirror)

    def _give_up(self, exc: BaseException) -> None:
        """Preview everything here from now on: a helper that cannot start or died (killed
        for memory, say) costs time, never rows."""
        if self.pool is not None:
            logger.warning("Row builder helper unavailable, building in process: %r", exc)
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


@dataclass
class _Item[Key]:
    """A batch read and not yet stored, with its mirror entries: given to a helper
    (``future``), previewed here (``built``), or neither yet."""

    key: Key
    rows: list[list[str]]
    mirror: Mirror
    future: Future[list[Previewed]] | None
    built: list[Previewed] | None = None

    def writable(self) -> bool:
        """Previewed, here or by its helper (or its helper failed: done here then)."""
        return self.built is not None or (self.future is not None and self.future.done())


def _unbuilt[Key](queue: deque[_Item[Key]]) -> _Item[Key] | None:
    """The first batch of the queue that no helper has and that is not previewed yet."""
    return next((item for item in queue if item.future is None and item.built is None), None)
