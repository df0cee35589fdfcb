"""Refreshing a connection's mirror: stream the provider's recipients in, in batches.

Split from ``engine`` (which runs pushes) so the two can change apart; ``job_execute`` calls
``execute_pull`` for pull jobs.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from integrations.clients import Recipient
from integrations.clients.errors import ProviderError
from integrations.connection import connection_recipient_client
from integrations.models import JobStatus, MirroredRecipient, SyncJob
from integrations.planner import analyze_if_stale
from integrations.sync.engine import _describe, _fail, _run_finished_hooks, _setting
from integrations.sync.mirror import mirror_mark_unseen_gone, mirror_upsert


def execute_pull(job: SyncJob) -> None:
    """Stream the provider's recipients into the mirror in batches (bounded memory).

    The client parses the list as it arrives (a RedFlag account answers in one reply of
    any size), so memory holds one batch. Only a complete listing marks the rows it did not
    see as gone and sets ``mirror_refreshed_at``; a failed one keeps what it read and says
    after how many recipients it stopped.
    """
    connection = job.connection
    if connection is None:
        with transaction.atomic():
            _fail(job, "connection_deleted", "The connection was deleted.")
        return
    started = timezone.now()
    batch_size = int(_setting("SYNC_PULL_BATCH", 500))
    seen = 0
    try:
        client = connection_recipient_client(connection, **_setting("SYNC_CLIENT_OPTIONS", {}))
    except ProviderError as exc:
        with transaction.atomic():
            _fail(job, type(exc).__name__, exc.message)
        return
    try:
        batch: list[Recipient] = []
        for recipient in client.iter_recipients():
            batch.append(recipient)
            if len(batch) >= batch_size:
                seen += mirror_upsert(connection, batch, seen_at=started)
                batch = []
                flags = SyncJob.objects.filter(pk=job.pk).values("cancel_requested").first()
                SyncJob.objects.filter(pk=job.pk).update(
                    n_succeeded=seen, total=seen, heartbeat_at=timezone.now()
                )
                if flags is None or flags["cancel_requested"]:
                    break
        else:
            seen += mirror_upsert(connection, batch, seen_at=started)
            batch = []
    except ProviderError as exc:
        # The records read before the failure are true: keep them. The listing is not
        # complete, so nobody is marked gone and the mirror's refresh time stays as it was.
        seen += mirror_upsert(connection, batch, seen_at=started)
        code, message = _describe(exc)
        with transaction.atomic():
            SyncJob.objects.filter(pk=job.pk).update(n_succeeded=seen, total=seen)
            job.refresh_from_db()
            _fail(job, code, f"The refresh stopped after {seen} recipients: {message}")
        return
    finally:
        client.close()
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().get(pk=job.pk)
        job.total = job.n_succeeded = seen
        if job.cancel_requested:
            job.status = JobStatus.CANCELLED
        else:
            # Only a complete listing proves who is gone.
            job.n_gone = mirror_mark_unseen_gone(connection, since=started)
            job.status = JobStatus.SUCCEEDED
            type(connection).objects.filter(pk=connection.pk).update(
                mirror_refreshed_at=timezone.now()
            )
        job.finished_at = timezone.now()
        job.save()
        transaction.on_commit(lambda: _run_finished_hooks(job.pk))
    # A refresh can write a whole account at once: searches and previews that start now
    # should not be planned for the mirror as it was before.
    analyze_if_stale(MirroredRecipient)
