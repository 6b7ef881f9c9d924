"""Avatars: upload (drawn again as a small square without metadata), who may see one, live
changes, replacing and removing, and that a deleted account's avatar goes."""

from __future__ import annotations

import io

from PIL import Image

from chat_service.realtime.deleted_accounts import DeletedAccounts
from chat_service.state import EXTENSION

from .test_attachments import jpeg_with_exif, png_bytes, storage_files
from .test_deleted_users import deletions  # noqa: F401 (fixture)


def put_avatar(client, user, data: bytes, name: str = "me.jpg"):
    return client.put("/api/me/avatar", headers=user.headers,
                      data={"file": (io.BytesIO(data), name, "image/jpeg")}, content_type="multipart/form-data")


def avatar_url(client, user) -> str | None:
    return client.get("/api/me", headers=user.headers).get_json()["user"]["avatar_url"]


def test_an_upload_becomes_a_square_avatar_without_metadata_shown_with_the_safe_headers(client, auth):
    alice = auth.user("alice")
    assert avatar_url(client, alice) is None
    response = put_avatar(client, alice, jpeg_with_exif((640, 480)))
    assert response.status_code == 200, response.get_json()
    user = response.get_json()["user"]
    assert user["username"] == "alice" and user["avatar_url"].startswith(f"/api/users/{alice.id}/avatar?v=")
    assert avatar_url(client, alice) == user["avatar_url"]

    served = client.get(user["avatar_url"], headers=alice.headers)
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert b"SpyCam" not in served.data and b"private comment" not in served.data
    picture = Image.open(io.BytesIO(served.data))
    assert picture.size == (256, 256) and not picture.getexif()


def test_only_people_who_see_the_user_see_the_avatar(client, auth):
    alice, friend, member, asked, stranger = (auth.user(name) for name in
                                              ("alice", "bob", "carol", "dave", "erin"))
    auth.befriend(alice, friend)
    auth.befriend(friend, member)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["alice", "carol"]},
                        headers=friend.headers)
    assert group.status_code == 201, group.get_json()
    assert client.post("/api/friend-requests", json={"username": "dave"}, headers=alice.headers).status_code == 201
    url = put_avatar(client, alice, png_bytes()).get_json()["user"]["avatar_url"]

    for viewer in (alice, friend, member, asked):
        assert client.get(url, headers=viewer.headers).status_code == 200, viewer.username
    # A stranger gets what a user without an avatar gives: nothing to tell them apart.
    assert client.get(url, headers=stranger.headers).status_code == 404
    assert client.get(f"/api/users/{stranger.id}/avatar", headers=alice.headers).status_code == 404
    assert client.get(url).status_code == 401
    # Whom she blocks no longer sees it, though they shared a group.
    assert client.post("/api/blocks", json={"username": "carol"}, headers=alice.headers).status_code == 201
    assert client.get(url, headers=member.headers).status_code == 404
    # The payloads that name her carry it.
    friends = client.get("/api/friends", headers=friend.headers).get_json()["friends"]
    assert [f["avatar_url"] for f in friends if f["id"] == alice.id] == [url]


def test_a_change_reaches_open_pages_and_replacing_or_removing_deletes_the_old_file(app, client, auth, socketio):
    alice, bob, stranger = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    sockets = {u.username: socketio.test_client(app, auth={"token": u.token}) for u in (alice, bob, stranger)}
    for socket in sockets.values():
        socket.get_received()

    def heard(name):
        return [e["args"][0]["user"] for e in sockets[name].get_received() if e["name"] == "user_updated"]

    first = put_avatar(client, alice, png_bytes()).get_json()["user"]
    assert heard("alice") == [first] and heard("bob") == [first] and heard("carol") == []
    assert len(storage_files(app)) == 1  # the upload itself is not kept

    second = put_avatar(client, alice, jpeg_with_exif()).get_json()["user"]
    assert second["avatar_url"] != first["avatar_url"] and heard("bob") == [second]
    assert len(storage_files(app)) == 1
    assert client.get(first["avatar_url"], headers=bob.headers).data == \
        client.get(second["avatar_url"], headers=bob.headers).data  # one avatar: the newest

    removed = client.delete("/api/me/avatar", headers=alice.headers)
    assert removed.status_code == 200 and removed.get_json()["user"]["avatar_url"] is None
    assert heard("bob") == [removed.get_json()["user"]]
    assert storage_files(app) == []
    assert client.get(second["avatar_url"], headers=bob.headers).status_code == 404
    for socket in sockets.values():
        socket.disconnect()


def test_what_is_not_an_image_is_refused_and_nothing_is_kept(app, client, auth):
    alice = auth.user("alice")
    for data in (b"", b"<svg onload=alert(1)>", b"\x89PNG\r\n\x1a\n" + b"\0" * 64):
        response = put_avatar(client, alice, data, "x.png")
        assert response.status_code == 422, data
        assert response.get_json()["error"]["fields"] == {"file": "must be a JPEG, PNG, GIF or WebP image"}
    not_multipart = client.put("/api/me/avatar", headers=alice.headers, json={"file": "x"})
    assert not_multipart.status_code == 400
    too_big = put_avatar(client, alice, b"\xff" * (5 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    assert storage_files(app) == [] and avatar_url(client, alice) is None


def test_a_deleted_account_takes_its_avatar_with_it(app, client, auth, deletions):  # noqa: F811
    alice, bob = auth.user("alice"), auth.user("bob")
    auth.befriend(alice, bob)
    url = put_avatar(client, alice, png_bytes()).get_json()["user"]["avatar_url"]
    deletions.announce(alice.id)
    DeletedAccounts(app, app.extensions[EXTENSION].database, deletions).apply_pending()
    assert storage_files(app) == []
    assert client.get(url, headers=bob.headers).status_code == 404
