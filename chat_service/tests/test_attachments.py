"""Attachments over REST and the socket: upload, sniffing, metadata stripping,
thumbnails, limits, sending with a message, who may download, cleanup."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import update

from chat_service.models import Attachment
from chat_service.services import attachments as attachment_actions
from chat_service.state import EXTENSION
from shared.timestamps import utcnow

from .conftest import make_token  # noqa: F401


def jpeg_with_exif(size=(640, 480)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."          # Make
    exif[0x0131] = "secret-editor 1.0"    # Software
    exif[0x8825] = {2: (52.0, 31.0, 12.0)}  # GPSInfo: latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=b"private comment")
    return out.getvalue()


def png_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(out, format="PNG")
    return out.getvalue()


def upload(client, user, data: bytes, name: str = "file.bin", content_type: str = "application/octet-stream"):
    return client.post("/api/attachments", headers=user.headers,
                       data={"file": (io.BytesIO(data), name, content_type)}, content_type="multipart/form-data")


def storage_files(app) -> list[str]:
    root = app.extensions[EXTENSION].storage.root
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.fixture
def pair(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    return alice, bob, auth.befriend(alice, bob)


def test_jpeg_is_stored_without_exif_with_a_thumbnail(client, pair):
    alice, _, _ = pair
    original = jpeg_with_exif()
    assert b"SpyCam" in original and Image.open(io.BytesIO(original)).getexif()
    response = upload(client, alice, original, "holiday.jpg", "text/html")  # the client's type is ignored
    assert response.status_code == 201, response.get_json()
    attachment = response.get_json()["attachment"]
    assert attachment["kind"] == "image" and attachment["content_type"] == "image/jpeg"
    assert attachment["name"] == "holiday.jpg" and (attachment["width"], attachment["height"]) == (640, 480)
    assert attachment["url"] == f"/api/attachments/{attachment['id']}"

    served = client.get(attachment["url"], headers=alice.headers)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"SpyCam" not in served.data and b"secret-editor" not in served.data
    assert b"private comment" not in served.data and b"Exif" not in served.data
    kept = Image.open(io.BytesIO(served.data))
    assert kept.format == "JPEG" and kept.size == (640, 480) and not kept.getexif()
    assert attachment["size"] == len(served.data)

    thumbnail = client.get(attachment["thumbnail_url"], headers=alice.headers)
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/webp"
    small = Image.open(io.BytesIO(thumbnail.data))
    assert max(small.size) == 320 and small.size == (320, 240)


def test_png_keeps_its_format_and_transparency(client, pair):
    alice, _, _ = pair
    attachment = upload(client, alice, png_bytes(), "dot.png").get_json()["attachment"]
    assert attachment["kind"] == "image" and attachment["content_type"] == "image/png"
    served = Image.open(io.BytesIO(client.get(attachment["url"], headers=alice.headers).data))
    assert served.format == "PNG" and served.mode == "RGBA"


def animated_gif_with_comment() -> bytes:
    frames = [Image.new("RGB", (50, 40), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0,
                   comment=b"private comment")
    return out.getvalue()


def webp_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(out, format="WEBP", exif=exif.tobytes())
    return out.getvalue()


def test_gif_stays_animated_and_webp_loses_its_exif(client, pair):
    alice, _, _ = pair
    gif = upload(client, alice, animated_gif_with_comment(), "wave.gif").get_json()["attachment"]
    assert gif["kind"] == "image" and gif["content_type"] == "image/gif"
    served = client.get(gif["url"], headers=alice.headers).data
    assert b"private comment" not in served
    assert b"private comment" in animated_gif_with_comment()
    assert Image.open(io.BytesIO(served)).n_frames == 2
    webp = upload(client, alice, webp_with_exif(), "w.webp").get_json()["attachment"]
    assert webp["content_type"] == "image/webp" and (webp["width"], webp["height"]) == (64, 48)
    served = client.get(webp["url"], headers=alice.headers).data
    assert b"SpyCam" not in served and not Image.open(io.BytesIO(served)).getexif()


@pytest.mark.parametrize("data, name, content_type, expected_type", [
    (b"<html><script>alert(1)</script></html>", "page.html", "text/html", "application/octet-stream"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "x.svg", "image/svg+xml",
     "application/octet-stream"),
    # Claims to be a PNG by its name, type and first bytes, and is not one.
    (b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" * 10, "fake.png", "image/png", "application/octet-stream"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "report.pdf", "application/octet-stream",
     "application/pdf"),
])
def test_files_are_sniffed_and_always_downloads(client, pair, data, name, content_type, expected_type):
    alice, _, _ = pair
    response = upload(client, alice, data, name, content_type)
    assert response.status_code == 201, response.get_json()
    attachment = response.get_json()["attachment"]
    assert attachment["kind"] == "file" and attachment["content_type"] == expected_type
    assert "thumbnail_url" not in attachment and "width" not in attachment
    served = client.get(attachment["url"], headers=alice.headers)
    assert served.status_code == 200 and served.data == data and served.mimetype == expected_type
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_names_are_metadata_only(client, app, pair):
    alice, _, _ = pair
    attachment = upload(client, alice, b"data", "../../etc/passwd", "text/plain").get_json()["attachment"]
    assert attachment["name"] == "passwd"
    windows = upload(client, alice, b"data", "..\\..\\boot.ini").get_json()["attachment"]["name"]
    assert windows.endswith("boot.ini") and "\\" not in windows and "/" not in windows
    odd = upload(client, alice, b"data", "r\u00e9sum\u00e9\u202e.txt").get_json()["attachment"]
    assert odd["name"] == "r\u00e9sum\u00e9.txt"
    served = client.get(odd["url"], headers=alice.headers)
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.txt" in served.headers["Content-Disposition"]
    assert all(len(name) == 32 and name.isalnum() for name in storage_files(app))


@pytest.mark.parametrize("config_overrides", [{"max_attachment_bytes": 1000}])
def test_size_limit(client, app, pair):
    alice, _, _ = pair
    assert upload(client, alice, b"x" * 1000).status_code == 201
    too_big = upload(client, alice, b"x" * 1001)
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "payload_too_large"
    far_too_big = upload(client, alice, b"x" * 200_000)
    assert far_too_big.status_code == 413 and far_too_big.get_json()["error"]["code"] == "payload_too_large"
    assert len(storage_files(app)) == 1  # nothing left of the refused ones


def test_bad_uploads(client, app, pair):
    alice, _, _ = pair
    empty = upload(client, alice, b"")
    assert empty.status_code == 422 and empty.get_json()["error"]["fields"] == {"file": "must not be empty"}
    no_file = client.post("/api/attachments", headers=alice.headers, data={"other": "x"},
                          content_type="multipart/form-data")
    assert no_file.status_code == 422 and "file" in no_file.get_json()["error"]["fields"]
    not_multipart = client.post("/api/attachments", headers=alice.headers, json={"file": "x"})
    assert not_multipart.status_code == 400 and not_multipart.get_json()["error"]["code"] == "bad_request"
    broken = client.post("/api/attachments", headers=alice.headers, data=b"--b\r\nnonsense",
                         content_type="multipart/form-data; boundary=b")
    assert broken.status_code == 400
    assert client.post("/api/attachments", data={"file": (io.BytesIO(b"x"), "a")}).status_code == 401
    assert storage_files(app) == []


def test_send_with_attachments_rest_and_history(client, pair):
    alice, bob, conversation_id = pair
    image = upload(client, alice, jpeg_with_exif(), "a.jpg").get_json()["attachment"]
    doc = upload(client, alice, b"notes", "notes.txt").get_json()["attachment"]
    url = f"/api/conversations/{conversation_id}/messages"
    # Before sending, only the uploader can read an upload.
    assert client.get(image["url"], headers=bob.headers).status_code == 404
    response = client.post(url, json={"client_id": "m1", "attachment_ids": [image["id"], doc["id"]]},
                           headers=alice.headers)
    assert response.status_code == 201, response.get_json()
    message = response.get_json()["message"]
    assert message["text"] == "" and message["attachments"] == [image, doc]
    history = client.get(url, headers=bob.headers).get_json()["messages"]
    assert history[-1]["attachments"] == [image, doc]
    listed = client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]
    assert listed[0]["last_message"]["attachments"] == [image, doc]
    assert client.get(image["url"], headers=bob.headers).status_code == 200
    assert client.get(image["thumbnail_url"], headers=bob.headers).status_code == 200
    # A resend answers with the stored message, attachments included.
    again = client.post(url, json={"client_id": "m1", "attachment_ids": [image["id"], doc["id"]]},
                        headers=alice.headers)
    assert again.status_code == 200 and again.get_json()["message"]["attachments"] == [image, doc]
    # Empty or blank text is fine with attachments.
    third = upload(client, alice, b"third").get_json()["attachment"]
    blank = client.post(url, json={"text": "", "attachment_ids": [third["id"]]}, headers=alice.headers)
    assert blank.status_code == 201 and blank.get_json()["message"]["text"] == ""
    # Plain messages carry an empty list.
    assert client.post(url, json={"text": "hi"}, headers=alice.headers).get_json()["message"]["attachments"] == []


def test_attachment_ids_that_cannot_be_used(client, auth, pair):
    alice, bob, conversation_id = pair
    url = f"/api/conversations/{conversation_id}/messages"
    bobs = upload(client, bob, b"bob's").get_json()["attachment"]
    mine = upload(client, alice, b"mine").get_json()["attachment"]
    for ids in ([bobs["id"]], [999999], [mine["id"], bobs["id"]], [mine["id"], mine["id"]], "1", [True], [0],
                list(range(1, 12))):
        response = client.post(url, json={"text": "x", "attachment_ids": ids}, headers=alice.headers)
        assert response.status_code == 422, (ids, response.get_json())
        assert "attachment_ids" in response.get_json()["error"]["fields"]
    # Nothing was half-written: no message, and my upload is still mine to send.
    assert client.get(url, headers=alice.headers).get_json()["messages"] == []
    assert client.post(url, json={"attachment_ids": [mine["id"]]}, headers=alice.headers).status_code == 201
    again = client.post(url, json={"text": "again", "attachment_ids": [mine["id"]]}, headers=alice.headers)
    assert again.status_code == 422
    # Without attachments, text stays required.
    assert client.post(url, json={"attachment_ids": []}, headers=alice.headers).status_code == 422


def test_only_members_download(client, auth, pair):
    alice, bob, conversation_id = pair
    carol = auth.user("carol")
    attachment = upload(client, alice, png_bytes(), "p.png").get_json()["attachment"]
    auth.send(alice, conversation_id, "look", attachment_ids=[attachment["id"]])
    for path in (attachment["url"], attachment["thumbnail_url"]):
        assert client.get(path, headers=bob.headers).status_code == 200
        refused = client.get(path, headers=carol.headers)
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
        assert client.get(path).status_code == 401
    assert client.get("/api/attachments/424242", headers=alice.headers).status_code == 404
    file = upload(client, alice, b"plain").get_json()["attachment"]
    assert client.get(f"/api/attachments/{file['id']}/thumbnail", headers=alice.headers).status_code == 404


def test_send_with_attachments_over_the_socket(app, client, socketio, pair):
    alice, bob, conversation_id = pair
    attachment = upload(client, alice, png_bytes(), "p.png").get_json()["attachment"]
    sender = socketio.test_client(app, auth={"token": alice.token})
    receiver = socketio.test_client(app, auth={"token": bob.token})
    ack = sender.emit("send", {"conversation_id": conversation_id, "text": "pic", "client_id": "s1",
                               "attachment_ids": [attachment["id"]]}, callback=True)
    assert ack["ok"] is True and ack["message"]["attachments"] == [attachment]
    pushed = [e["args"] for e in receiver.get_received() if e["name"] == "message"]
    assert pushed[-1]["attachments"] == [attachment]
    refused = sender.emit("send", {"conversation_id": conversation_id, "text": "again", "client_id": "s2",
                                   "attachment_ids": [attachment["id"]]}, callback=True)
    assert refused["ok"] is False and refused["error"]["code"] == "validation_error"
    sender.disconnect()
    receiver.disconnect()


def test_abandoned_uploads_are_removed_with_their_files(app, client, pair):
    alice, _, conversation_id = pair
    old = upload(client, alice, png_bytes(), "old.png").get_json()["attachment"]
    sent = upload(client, alice, b"sent").get_json()["attachment"]
    fresh = upload(client, alice, b"fresh").get_json()["attachment"]
    client.post(f"/api/conversations/{conversation_id}/messages", json={"attachment_ids": [sent["id"]]},
                headers=alice.headers)
    rt = app.extensions[EXTENSION]
    with app.app_context(), rt.database.sessionmaker() as session:
        session.execute(update(Attachment).where(Attachment.id.in_([old["id"], sent["id"]]))
                        .values(created_at=utcnow().replace(year=2020)))
        session.commit()
        files_before = len(storage_files(app))
        assert attachment_actions.remove_abandoned(session, 3600) == 1
    assert len(storage_files(app)) == files_before - 2  # the image and its thumbnail
    assert client.get(old["url"], headers=alice.headers).status_code == 404
    assert client.get(sent["url"], headers=alice.headers).status_code == 200
    assert client.get(fresh["url"], headers=alice.headers).status_code == 200


def test_deleting_messages_deletes_their_files_after_commit(app, client, pair):
    alice, _, conversation_id = pair
    attachment = upload(client, alice, png_bytes(), "p.png").get_json()["attachment"]
    message = client.post(f"/api/conversations/{conversation_id}/messages",
                          json={"attachment_ids": [attachment["id"]]}, headers=alice.headers).get_json()["message"]
    rt = app.extensions[EXTENSION]
    assert len(storage_files(app)) == 2
    with app.app_context(), rt.database.sessionmaker() as session:
        assert attachment_actions.delete_attachments_of(session, [message["id"]]) == 1
        session.rollback()  # the deletion did not happen: the files stay
        assert len(storage_files(app)) == 2
        attachment_actions.delete_attachments_of(session, [message["id"]])
        assert len(storage_files(app)) == 2  # not before the commit
        session.commit()
    assert storage_files(app) == []
    assert client.get(attachment["url"], headers=alice.headers).status_code == 404
