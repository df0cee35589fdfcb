"""Ask the broker whether it answers and how many messages wait, without Celery's retries.

Shared by the readiness check (``dashboard.core.health``, ``/readyz/``) and the overview.
The embedded transport itself is ``dashboard/broker.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from kombu import Connection as BrokerConnection
from kombu.exceptions import ChannelError

logger = logging.getLogger(__name__)


def broker_connection() -> BrokerConnection:
    """A short-lived connection to the broker, for the health check and the overview."""
    return BrokerConnection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    )


def broker_queue_depth(queue: str) -> int | None:
    """Messages waiting in ``queue`` at the broker, or ``None`` if it cannot be asked."""
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            try:
                # kombu's stubs lack the virtual channels' queue_declare, which answers
                # (name, message count, consumer count).
                channel: Any = conn.default_channel
                _, count, _ = channel.queue_declare(queue=queue, passive=True)
            except ChannelError:
                return 0  # Redis drops an empty queue's key: nothing waits
            return int(count)
    except Exception as exc:  # any transport failure: the page shows "unknown"
        logger.warning("Overview: broker queue depth unavailable: %s", type(exc).__name__)
        return None
