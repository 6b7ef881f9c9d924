"""One file from a multipart/form-data body, streamed chunk by chunk as it arrives
(Werkzeug's sans-IO decoder), so an upload is never held whole in memory."""

from __future__ import annotations

from typing import IO, Callable, Iterator, TypeVar

from flask import Request
from werkzeug.sansio.multipart import Data, Epilogue, Event, File, MultipartDecoder, NeedData

from shared.errors import BadRequest, PayloadTooLarge
from shared.validation import invalid

T = TypeVar("T")
CHUNK = 64 * 1024
# What the decoder may buffer: one chunk read plus what is left of the one before (a part's
# headers, a possible boundary); data is handed on as it is found, never accumulated.
MAX_BUFFER = 2 * CHUNK
MAX_PARTS = 10


def read_file_field(request: Request, field: str, max_bytes: int,
                    save: Callable[[Iterator[bytes]], T]) -> tuple[str | None, T]:
    """The file name the client gave for `field`, and what `save` made of its bytes.
    `save` consumes the chunks as they arrive; beyond `max_bytes` they raise 413."""
    if request.mimetype != "multipart/form-data" or not request.mimetype_params.get("boundary"):
        raise BadRequest("The body must be multipart/form-data with a boundary.")
    decoder = MultipartDecoder(request.mimetype_params["boundary"].encode("latin-1", "replace"),
                               MAX_BUFFER, max_parts=MAX_PARTS)
    events = _events(decoder, request.stream)
    try:
        for event in events:
            if isinstance(event, File) and event.name == field:
                return event.filename, save(_limited(_part_data(events), max_bytes))
    except ValueError:
        raise BadRequest("The multipart body is malformed.") from None
    raise invalid(field, "is required")


def _events(decoder: MultipartDecoder, stream: IO[bytes]) -> Iterator[Event]:
    while True:
        event = decoder.next_event()
        if isinstance(event, NeedData):
            decoder.receive_data(stream.read(CHUNK) or None)  # None: the body ended
        elif isinstance(event, Epilogue):
            return
        else:
            yield event


def _part_data(events: Iterator[Event]) -> Iterator[bytes]:
    for event in events:
        if not isinstance(event, Data):
            return
        if event.data:
            yield event.data
        if not event.more_data:
            return


def _limited(chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"An attachment may be at most {max_bytes} bytes.")
        yield chunk
