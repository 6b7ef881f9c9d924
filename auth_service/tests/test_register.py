import re
import threading

import pytest
from sqlalchemy import func, select

from auth_service import db
from auth_service.models import User

from .conftest import ORIGIN, assert_error


def count_users(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(User))


def test_register_returns_the_user_with_email(client, auth):
    response = auth.register("Alice", email="Alice@Example.com")
    assert response.status_code == 201
    user = response.get_json()["user"]
    assert set(user) == {"id", "username", "created_at", "email"}
    assert user["username"] == "Alice" and user["email"] == "Alice@Example.com"
    assert isinstance(user["id"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", user["created_at"])


def test_password_is_stored_as_a_salted_scrypt_hash(app, auth):
    auth.register("alice")
    auth.register("bob")  # same password
    with app.app_context():
        hashes = db.session().scalars(select(User.password_hash)).all()
    assert all(re.fullmatch(r"scrypt\$10\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}", h) for h in hashes)
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("username", ["abc", "a" * 32, "A.b-c_9"])
def test_username_boundaries_are_accepted(auth, username):
    assert auth.register(username).status_code == 201


@pytest.mark.parametrize("password", ["x" * 8, "x" * 128, "pässwörd ünïcode"])
def test_password_boundaries_are_accepted(auth, password):
    assert auth.register(password=password).status_code == 201
    assert auth.login(password=password).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"username": "ab"}, "username"),
    ({"username": "a" * 33}, "username"),
    ({"username": "al ice"}, "username"),
    ({"username": "ali/ce"}, "username"),
    ({"username": "älice"}, "username"),
    ({"username": "ali\x00ce"}, "username"),
    ({"username": 12345}, "username"),
    ({"username": None}, "username"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"email": "a b@example.com"}, "email"),
    ({"email": "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com"}, "email"),  # 260 characters
    ({"email": ["a@example.com"]}, "email"),
    ({"password": "x" * 7}, "password"),
    ({"password": "x" * 129}, "password"),
    ({"password": 12345678}, "password"),
    ({"password": {"x": 1}}, "password"),
])
def test_invalid_fields_are_422_with_field_names(app, client, body, field):
    data = {"username": "alice", "email": "alice@example.com", "password": "long enough", **body}
    if data[field] is None:
        del data[field]
    error = assert_error(client.post("/auth/register", json=data), 422, "validation_error")
    assert field in error["fields"]
    assert count_users(app) == 0


def test_all_invalid_fields_are_reported_together(client):
    error = assert_error(client.post("/auth/register", json={}), 422, "validation_error")
    assert set(error["fields"]) == {"username", "email", "password"}


def test_lone_surrogate_in_password_is_422(client):
    body = '{"username": "alice", "email": "a@example.com", "password": "abcdefgh\\ud800"}'
    response = client.post("/auth/register", data=body, content_type="application/json")
    assert assert_error(response, 422, "validation_error")["fields"] == {
        "password": "contains characters that are not allowed"}


@pytest.mark.parametrize("username, email, field", [
    ("ALICE", "other@example.com", "username"),
    ("other", "ALICE@example.COM", "email"),
])
def test_duplicates_are_409_case_insensitively(app, auth, username, email, field):
    assert auth.register("alice", email="alice@example.com").status_code == 201
    error = assert_error(auth.register(username, email=email), 409, "conflict")
    assert set(error["fields"]) == {field}
    assert count_users(app) == 1


def test_concurrent_registrations_of_one_name_create_one_user(app):
    statuses = []

    def register(index):
        response = app.test_client().post("/auth/register", json={
            "username": "racer" if index % 2 else "RACER", "email": f"r{index}@example.com",
            "password": "long enough"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    assert count_users(app) == 1


def test_foreign_origin_is_refused_but_no_origin_is_fine(client, auth):
    response = client.post("/auth/register", headers={"Origin": "https://evil.example"},
                           json={"username": "alice", "email": "a@example.com", "password": "long enough"})
    assert_error(response, 403, "forbidden")
    assert auth.register().status_code == 201
    assert auth.register("bob").status_code == 201


def test_own_origin_is_allowed(client):
    response = client.post("/auth/register", headers={"Origin": ORIGIN},
                           json={"username": "alice", "email": "a@example.com", "password": "long enough"})
    assert response.status_code == 201
