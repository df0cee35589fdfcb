"""The Celery app: configured from Django settings (the ``CELERY_`` namespace)."""

import os
from collections.abc import Mapping
from contextlib import suppress
from contextvars import Token
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import celeryd_init, task_postrun, task_prerun

from integrations import logcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    ["dashboard.core", "dashboard.housekeeping", "dashboard.imports", "integrations"]
)


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """kombu's filesystem transport needs its folders to exist before the first message."""
    if not str(sender.conf.broker_url).startswith("filesystem://"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


# -- what each log line of a worker is about (integrations/logcontext.py) --------------------
_task_bindings: dict[str, Token[Mapping[str, Any]]] = {}


@celeryd_init.connect
def _name_the_worker(sender: str | None = None, **kwargs: Any) -> None:
    """Every line of this worker (and of the processes it forks) names the worker."""
    logcontext.bind_process(worker=sender)


@task_prerun.connect
def _bind_the_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None:
        return
    hostname = getattr(getattr(task, "request", None), "hostname", None)
    _task_bindings[task_id] = logcontext.bind(
        task=getattr(task, "name", None), task_id=task_id, worker=hostname
    )


@task_postrun.connect
def _unbind_the_task(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_bindings.pop(task_id or "", None)
    if token is not None:
        with suppress(ValueError):  # bound in another context (another thread's)
            logcontext.unbind(token)
