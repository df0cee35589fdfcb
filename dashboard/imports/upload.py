"""An upload handler that enforces ``IMPORT_MAX_BYTES`` while the file streams in.

Django's upload settings cap memory use, not a file's size (DESIGN "Uploads"). This handler
runs before the others: it counts each chunk and stops the upload the moment the cap is
passed, so an oversized file is never written anywhere in full.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeCappedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.too_large = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # Refuse at once what is announced as too big (the body is drained, not stored).
        if content_length and content_length > self.max_bytes + 64 * 1024:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
