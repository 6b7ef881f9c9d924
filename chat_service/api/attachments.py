"""Attachments: upload (multipart, streamed to storage) and download.

Downloads are authorized here; the bytes go out through the gateway (X-Accel-Redirect to
its `internal` location over the storage directory) when ATTACHMENT_ACCEL_PREFIX is set,
else from this process. Either way they cannot run in the browser: `nosniff`, a sandboxing
CSP, inline only for images that were decoded and re-encoded here.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response, jsonify, request, send_file

from shared.errors import NotFound, ValidationError

from .. import db
from ..services import attachments, media
from ..state import app_state
from . import api, current_user_id
from .multipart import read_file_field

# Multipart framing around the file (boundaries, part headers, small fields).
MULTIPART_OVERHEAD = 64 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
}


@api.post("/attachments")
def upload_attachment():
    rt = app_state()
    request.max_content_length = rt.config.max_attachment_bytes + MULTIPART_OVERHEAD
    storage = rt.storage
    filename, (key, size) = read_file_field(request, "file", rt.config.max_attachment_bytes, storage.save_stream)
    if size == 0:
        storage.delete(key)
        raise ValidationError("file must not be empty.", fields={"file": "must not be empty"})
    content = media.examine(storage, key, size)
    try:
        attachment = attachments.record_upload(db.session(), current_user_id(), filename, content)
    except BaseException:
        for stored in (content.storage_key, content.thumbnail_key):
            if stored is not None:
                storage.delete(stored)
        raise
    return jsonify({"attachment": attachment}), 201


@api.get("/attachments/<id:attachment_id>")
def download_attachment(attachment_id: int):
    attachment = attachments.readable(db.session(), current_user_id(), attachment_id)
    return send_stored(attachment.storage_key, attachment.content_type, inline=attachment.kind == "image",
                       name=attachment.name)


@api.get("/attachments/<id:attachment_id>/thumbnail")
def download_thumbnail(attachment_id: int):
    attachment = attachments.readable(db.session(), current_user_id(), attachment_id)
    if attachment.thumbnail_key is None:
        raise NotFound("This attachment has no thumbnail.")
    return send_stored(attachment.thumbnail_key, media.THUMBNAIL_TYPE, inline=True,
                       name=f"thumbnail-{attachment.id}.webp")


def send_stored(key: str, content_type: str, *, inline: bool, name: str) -> Response:
    """The stored file `key` (the caller has authorized it), with the headers that keep it inert."""
    rt = app_state()
    if rt.config.attachment_accel_prefix:
        # nginx serves the file; it keeps Content-Type, Content-Disposition and Cache-Control and
        # adds the security headers itself (gateway/nginx.conf.template).
        response = Response(status=200, content_type=content_type)
        response.headers["X-Accel-Redirect"] = rt.config.attachment_accel_prefix + key
    else:
        response = send_file(rt.storage.path(key), mimetype=content_type, conditional=True,
                             etag=key[:16])
    _set_disposition(response, "inline" if inline else "attachment", name)
    response.headers.update(SECURITY_HEADERS)
    return response


def _set_disposition(response: Response, disposition: str, name: str) -> None:
    """RFC 6266: an ASCII `filename` for old clients, the exact name as `filename*`."""
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii") or "file"
    response.headers.set("Content-Disposition", disposition, filename=simple,
                         **{"filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")})
