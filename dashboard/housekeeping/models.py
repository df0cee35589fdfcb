from django.db import models


class PrunedItems(models.Model):
    """A job whose items housekeeping removed after the retention period; its counts stay."""

    job = models.OneToOneField(
        "integrations.SyncJob", on_delete=models.CASCADE, related_name="pruned_items"
    )
    items = models.PositiveIntegerField()
    pruned_at = models.DateTimeField()

    class Meta:
        # Created by the core app before housekeeping had an area of its own; the table kept
        # its name when the model moved (migrations core 0003, housekeeping 0001).
        db_table = "core_pruneditems"
        verbose_name_plural = "pruned items"

    def __str__(self) -> str:
        return f"{self.items} items of job {self.job_id} pruned at {self.pruned_at:%Y-%m-%d}"
