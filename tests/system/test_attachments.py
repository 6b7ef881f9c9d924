"""Attachments through the gateway with three chat instances: an upload on one instance
is downloaded from any other, the bytes sent by nginx (X-Accel-Redirect to its internal
location over the shared storage directory) with headers that keep them inert."""

from __future__ import annotations

import io
import os

import pytest
import requests
from PIL import Image

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system

MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True,
                     env={"MAX_ATTACHMENT_BYTES": str(MAX_ATTACHMENT_BYTES)}) as stack:
        yield stack


def upload(base: str, user: dict, data: bytes, name: str) -> requests.Response:
    return requests.post(f"{base}/api/attachments", headers=user["headers"], files={"file": (name, data)},
                         timeout=60)


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_upload_on_one_instance_download_through_the_gateway(stack):
    base = stack.url
    alice, bob, carol = new_user(base, "alice"), new_user(base, "bob"), new_user(base, "carol")
    conversation_id = befriend(base, alice, bob)
    first, second, third = stack.chat_urls

    # A file just under the limit, uploaded straight to the first instance.
    data = os.urandom(MAX_ATTACHMENT_BYTES - 1)
    uploaded = upload(first, alice, data, "random.bin")
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()["attachment"]
    assert file["kind"] == "file" and file["size"] == len(data)
    image = upload(base, alice, jpeg_with_exif(), "photo.jpg").json()["attachment"]  # through the gateway
    sent = requests.post(f"{second}/api/conversations/{conversation_id}/messages", headers=alice["headers"],
                         json={"text": "two files", "attachment_ids": [file["id"], image["id"]]}, timeout=10)
    assert sent.status_code == 201, sent.text

    # The other instances only authorize, and hand the sending to nginx.
    for instance in (second, third):
        direct = requests.get(f"{instance}{file['url']}", headers=bob["headers"], timeout=10)
        assert direct.status_code == 200 and direct.content == b""
        assert direct.headers["X-Accel-Redirect"].startswith("/_attachments/")

    # Through the gateway (each request hashed to any instance): the bytes, sent by nginx.
    for _ in range(3):
        served = requests.get(f"{base}{file['url']}", headers=bob["headers"], timeout=60)
        assert served.status_code == 200 and served.content == data
        assert "X-Accel-Redirect" not in served.headers
        assert served.headers["Content-Type"] == "application/octet-stream"
        assert served.headers["Content-Disposition"].startswith("attachment;")
        assert "filename=random.bin" in served.headers["Content-Disposition"]
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert served.headers["Cache-Control"] == "private, max-age=3600"

    photo = requests.get(f"{base}{image['url']}", headers=bob["headers"], timeout=10)
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
    assert photo.headers["Content-Disposition"].startswith("inline;")
    assert b"SpyCam" not in photo.content and Image.open(io.BytesIO(photo.content)).size == (800, 600)
    thumbnail = requests.get(f"{base}{image['thumbnail_url']}", headers=bob["headers"], timeout=10)
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/webp"

    # A partial download (a resumed one) is answered by nginx too.
    ranged = requests.get(f"{base}{file['url']}", headers={**bob["headers"], "Range": "bytes=10-19"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == data[10:20]

    # Not a member: 404, whichever way.
    refused = requests.get(f"{base}{file['url']}", headers=carol["headers"], timeout=10)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    # The storage location is internal: never served to a request from outside.
    key = requests.get(f"{second}{file['url']}", headers=bob["headers"], timeout=10).headers["X-Accel-Redirect"]
    outside = requests.get(f"{base}{key}", timeout=10)
    assert outside.status_code == 404 and outside.content != data


def test_only_the_upload_route_takes_large_bodies(stack):
    base = stack.url
    alice = new_user(base, "big")
    too_big = upload(base, alice, b"x" * (MAX_ATTACHMENT_BYTES + 1), "big.bin")
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    far_too_big = upload(base, alice, b"x" * (MAX_ATTACHMENT_BYTES + 200 * 1024), "bigger.bin")
    assert far_too_big.status_code == 413 and far_too_big.json()["error"]["code"] == "payload_too_large"
    # Every other route keeps the 64 KiB limit, answered by the gateway.
    other = requests.post(f"{base}/api/friend-requests", headers={**alice["headers"], "Content-Type": "application/json"},
                          data=b"{" + b" " * (100 * 1024) + b"}", timeout=10)
    assert other.status_code == 413 and other.json()["error"]["code"] == "payload_too_large"
    assert upload(base, alice, b"", "empty.txt").status_code == 422
