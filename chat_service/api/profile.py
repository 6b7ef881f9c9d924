"""You as others see you here (`/api/me`), your avatar, and other users' avatars.

An avatar is uploaded like an attachment (multipart, streamed to storage), drawn again as a
small square (services/media.py) and served like an attachment's thumbnail, to whoever may see
its user (services/avatars.py); anyone else gets the 404 of no avatar.
"""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import NotFound, ValidationError

from .. import db
from ..services import avatars, media, users
from ..state import app_state
from . import api, current_user_id
from .attachments import MULTIPART_OVERHEAD, send_stored
from .multipart import read_file_field


@api.get("/me")
def me():
    return jsonify({"user": users.cached_user_payload(db.session(), current_user_id())})


@api.put("/me/avatar")
def set_avatar():
    storage = app_state().storage
    request.max_content_length = avatars.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    _, (upload, _size) = read_file_field(request, "file", avatars.MAX_UPLOAD_BYTES, storage.save_stream)
    try:
        key = media.avatar(storage, upload)
    finally:
        storage.delete(upload)
    if key is None:
        raise ValidationError("The avatar must be a JPEG, PNG, GIF or WebP image.",
                              fields={"file": "must be a JPEG, PNG, GIF or WebP image"})
    try:
        user = avatars.set_avatar(db.session(), current_user_id(), key)
    except BaseException:
        storage.delete(key)
        raise
    return jsonify({"user": user})


@api.delete("/me/avatar")
def remove_avatar():
    return jsonify({"user": avatars.remove_avatar(db.session(), current_user_id())})


@api.get("/users/<id:user_id>/avatar")
def avatar(user_id: int):
    key = avatars.readable(db.session(), current_user_id(), user_id)
    if key is None:
        raise NotFound("No such avatar.")
    return send_stored(key, media.AVATAR_TYPE, inline=True, name=f"avatar-{user_id}.webp")
