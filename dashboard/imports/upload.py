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
        # A body announced as too big is refused at its file, not here: the fields before
        # the file (the CSRF token, the connection chosen) are still read, so the page can
        # answer with the size message. Raising ``StopUpload`` here escapes Django's parser
        # (it catches it only around the parts): that was a 500.
        if content_length and content_length > self.max_bytes + 64 * 1024:
            self.too_large = True
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.too_large:
            # Not one byte of it is kept; the rest of the body is drained, so the browser
            # reads the answer instead of a reset connection.
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
