"""Building batches of rows into payloads, in a helper process beside the caller.

Cleaning the cells (phone numbers above all) is most of a preview's work and needs nothing
but the cells and the mapping, while comparing with the mirror and writing the rows needs the
database. With a helper process the two overlap on two cores: the helper builds batches while
the caller compares and writes the ones before. The helper never touches the database; it is
started from a fork server (``forkserver``), so it shares no connection, lock or thread with
the caller.

Results come back in the order of the batches. The helper takes batches as it frees up, and
the caller builds one itself whenever the next to write is nobody's yet or still being built
by the helper, so neither waits for the other. Each row's result is the same whoever builds
it (``RowBuilder`` is a pure function of the cells and the mapping; the caller's language,
which country names are read in, is the helper's too).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.process as mp_process
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from integrations.catalogue import FieldSpec, Provider
from integrations.importing.cells import RowBuilder

logger = logging.getLogger(__name__)

# One row's result, as ``RowResult`` (payload, errors, identifier, identifier path) in a tuple,
# which crosses a process boundary at a fraction of a dataclass's pickling cost.
Built = tuple[dict[str, Any], dict[str, str], str, str]

# Batches given to the helper and not yet built; past this the caller builds the next itself.
HELPER_QUEUE = 4
# Batches read ahead of the one being written: bounds the memory a large file takes.
LOOKAHEAD = 10


@dataclass(frozen=True)
class BuilderSpec:
    """What a ``RowBuilder`` is made from, sent once to the helper process."""

    provider: Provider
    fields: tuple[FieldSpec, ...]
    paths: tuple[str, ...]
    width: int
    default_region: str | None
    language: str | None = None

    def builder(self) -> RowBuilder:
        return RowBuilder(
            provider=self.provider,
            fields=self.fields,
            paths=self.paths,
            width=self.width,
            default_region=self.default_region,
        )


def build_rows(builder: RowBuilder, rows: Sequence[Sequence[str]]) -> list[Built]:
    results = []
    for cells in rows:
        result = builder.build(cells)
        results.append((result.payload, result.errors, result.identifier, result.identifier_path))
    return results


# -- the helper process ------------------------------------------------------------------------

_helper_builder: RowBuilder | None = None


def _helper_start(spec: BuilderSpec, caller: int) -> None:
    """Set Django up (country names need its translations) and the helper's builder, and
    watch the caller's process."""
    global _helper_builder
    threading.Thread(target=_exit_after, args=(caller,), daemon=True).start()
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup(set_prefix=False)
    if spec.language:
        from django.utils import translation

        translation.activate(spec.language)
    _helper_builder = spec.builder()
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


def _helper_build(rows: list[list[str]]) -> list[Built]:
    assert _helper_builder is not None, "the helper was not started"
    return build_rows(_helper_builder, rows)


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
    """Build batches of rows in order, ``helpers`` processes beside the caller (0: none).

    Use as a context manager: leaving it stops the helpers.
    """

    def __init__(self, spec: BuilderSpec, *, helpers: int) -> None:
        self.spec = spec
        self.local = spec.builder()
        self.helpers = helpers
        self.pool: ProcessPoolExecutor | None = None
        self.submitted = 0
        self.built_by_helpers = 0  # batches, for the log
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> BatchBuilder[Key]:
        if self.helpers > 0:
            self._saved = _allow_children()
            self.pool = ProcessPoolExecutor(
                max_workers=self.helpers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_helper_start,
                initargs=(self.spec, os.getpid()),
            )
        return self

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

    def results(
        self, batches: Iterable[tuple[Key, list[list[str]]]]
    ) -> Iterator[tuple[Key, list[list[str]], list[Built]]]:
        """Each batch with its rows' results, in the order given.

        Batches are read up to ``LOOKAHEAD`` ahead of the one to write, topped up before each
        is given back (read only when the caller waited, a run of batches already built
        would leave the helper idle: 9 s instead of 11 for 100,000 rows). A helper takes the
        earliest batch nobody builds yet whenever it has fewer than ``HELPER_QUEUE`` to do
        (the first one at once, the others once it has started: a start takes Django's
        set-up). The caller builds the next batch to write if no helper has it, and, while
        that one waits for its helper, the earliest batch nobody builds yet.
        """
        queue: deque[_Item[Key]] = deque()
        ready: Future[bool] | None = None
        if self.pool is not None:
            try:
                ready = self.pool.submit(_helper_ready)
            except HELPER_START_ERRORS as exc:
                self._give_up(exc)
        pending = iter(batches)
        exhausted = False
        while True:
            while not exhausted and len(queue) < LOOKAHEAD:
                batch = next(pending, None)
                if batch is None:
                    exhausted = True
                else:
                    queue.append(_Item(*batch, future=None))
            if ready is not None and (ready.done() or not self.submitted):
                self._feed(queue)
            if not queue:
                return
            if queue[0].writable():
                yield self._result(queue.popleft())
            elif (item := _unbuilt(queue)) is not None:
                item.built = build_rows(self.local, item.rows)
            else:
                yield self._result(queue.popleft())  # wait for its helper

    def _feed(self, queue: deque[_Item[Key]]) -> None:
        """Give helpers the earliest batches nobody builds, up to ``HELPER_QUEUE`` each."""
        busy = sum(1 for item in queue if item.future is not None and not item.future.done())
        while self.pool is not None and busy < HELPER_QUEUE * self.helpers:
            item = _unbuilt(queue)
            if item is None:
                return
            try:
                item.future = self.pool.submit(_helper_build, item.rows)
            except HELPER_START_ERRORS as exc:
                self._give_up(exc)
                return
            self.submitted += 1
            busy += 1

    def _result(self, item: _Item[Key]) -> tuple[Key, list[list[str]], list[Built]]:
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
        return item.key, item.rows, build_rows(self.local, item.rows)

    def _give_up(self, exc: BaseException) -> None:
        """Build everything here from now on: a helper that cannot start or died (killed
        for memory, say) costs time, never rows."""
        if self.pool is not None:
            logger.warning("Row builder helper unavailable, building in process: %r", exc)
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


@dataclass
class _Item[Key]:
    """A batch read and not yet written: given to a helper (``future``), built here
    (``built``), or neither yet."""

    key: Key
    rows: list[list[str]]
    future: Future[list[Built]] | None
    built: list[Built] | None = None

    def writable(self) -> bool:
        """Built, here or by its helper (or its helper failed: it is built here then)."""
        return self.built is not None or (self.future is not None and self.future.done())


def _unbuilt[Key](queue: deque[_Item[Key]]) -> _Item[Key] | None:
    """The first batch of the queue that no helper has and that is not built yet."""
    return next((item for item in queue if item.future is None and item.built is None), None)
