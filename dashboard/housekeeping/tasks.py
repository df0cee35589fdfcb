from celery import shared_task

from dashboard.housekeeping import services


@shared_task(name="housekeeping.prune", ignore_result=True)
def prune() -> None:
    """Remove what the retention settings no longer keep (scheduled daily by beat)."""
    services.prune()
