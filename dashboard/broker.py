"""The embedded broker (``filesystem://``) with messages that appear whole.

kombu's filesystem transport writes a message straight under its final name, so a worker
polling the queue folder can pick the file up before it is written and die on a
``JSONDecodeError`` (kombu issue 1551). The more tasks queue other tasks (a job spread over
several workers, a watchdog re-queueing work) and the more workers poll, the likelier it is.
Here each message is written under a name no queue matches and renamed into place:
``os.replace`` within one folder is atomic, so a reader sees a whole message or none.

Only the embedded broker (the demo, tests without Redis) uses this; production uses Redis.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The reader keeps only names whose part after the first dot is "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f"writing-{name}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(message)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
