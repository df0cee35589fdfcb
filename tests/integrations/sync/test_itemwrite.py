"""The one-statement remote id write equals Django's ``bulk_update``."""

from __future__ import annotations

from integrations.models import SyncItem
from integrations.sync.itemwrite import items_set_remote_ids
from tests.factories import SyncItemFactory, SyncJobFactory


def test_remote_ids_are_written_as_bulk_update_writes_them(postgresql):
    plain_job, fast_job = SyncJobFactory(), SyncJobFactory()
    plain = [SyncItemFactory(job=plain_job, seq=n, remote_id="") for n in range(5)]
    fast = [SyncItemFactory(job=fast_job, seq=n, remote_id="") for n in range(5)]
    values = ["6f1c0a", "", "ÿ-ünïcode", "x" * 100, "a'b\"c;--"]
    for items in (plain, fast):
        for item, value in zip(items, values, strict=True):
            item.remote_id = value
    SyncItem.objects.bulk_update(plain[:4], ["remote_id"])
    items_set_remote_ids(fast[:4])
    items_set_remote_ids([])

    def written(job):
        return list(job.items.order_by("seq").values_list("remote_id", "status"))

    assert written(fast_job) == [(v, "pending") for v in [*values[:4], ""]]
    assert written(plain_job) == written(fast_job)
