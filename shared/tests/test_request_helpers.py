"""The error envelope and the cookie/Bearer + CSRF rule, on a tiny Flask app."""

import time

import pytest
from flask import Flask, jsonify, request

from shared import jwt
from shared.errors import Conflict, RateLimited, json_object, register_error_handlers
from shared.request_auth import authenticate

RING = jwt.KeyRing.from_spec("k1:" + "s" * 40)


def token(**overrides):
    claims = jwt.make_claims(subject="7", issuer="chat-auth", audience="chat", lifetime_seconds=60,
                             extra={"typ": "access", "name": "alice"})
    claims.update(overrides)
    return jwt.encode(claims, RING)


@pytest.fixture
def client():
    app = Flask(__name__)
    register_error_handlers(app)

    @app.route("/whoami", methods=["GET", "POST"])
    def whoami():
        identity = authenticate(request, RING, issuer="chat-auth", audience="chat",
                                allowed_origins=["https://chat.example"])
        return jsonify(user_id=identity.user_id, via=identity.via)

    @app.post("/echo")
    def echo():
        return jsonify(json_object(request))

    @app.get("/conflict")
    def conflict():
        raise Conflict("Already there.")

    @app.get("/limited")
    def limited():
        raise RateLimited(42)

    @app.get("/boom")
    def boom():
        raise RuntimeError("bug")

    return app.test_client()


def test_api_errors_use_the_envelope(client):
    response = client.get("/conflict")
    assert response.status_code == 409
    assert response.get_json() == {"error": {"code": "conflict", "message": "Already there."}}


def test_rate_limited_carries_retry_after(client):
    response = client.get("/limited")
    assert response.status_code == 429 and response.headers["Retry-After"] == "42"


def test_unknown_route_and_wrong_method_use_the_envelope(client):
    assert client.get("/nope").get_json()["error"]["code"] == "not_found"
    response = client.get("/echo")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_unexpected_errors_do_not_leak_details(client):
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong."}}


@pytest.mark.parametrize("body, content_type", [
    ("{", "application/json"), ("[1]", "application/json"), ('"x"', "application/json"),
    ("a=1", "application/x-www-form-urlencoded"), ("", "application/json"),
])
def test_malformed_bodies_are_400(client, body, content_type):
    response = client.post("/echo", data=body, content_type=content_type)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_bearer_and_cookie_both_authenticate(client):
    assert client.get("/whoami", headers={"Authorization": f"Bearer {token()}"}).get_json() == {"user_id": 7, "via": "bearer"}
    client.set_cookie("access_token", token())
    assert client.get("/whoami").get_json() == {"user_id": 7, "via": "cookie"}


def test_missing_bad_and_expired_tokens_are_401(client):
    assert client.get("/whoami").status_code == 401
    assert client.get("/whoami", headers={"Authorization": "Bearer nope"}).status_code == 401
    expired = token(iat=int(time.time()) - 3600, exp=int(time.time()) - 600)
    response = client.get("/whoami", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and 'error_description="expired"' in response.headers["WWW-Authenticate"]


def test_expiry_leeway_is_the_shared_one(client):
    """The same 5 s every verifier uses (chat's socket handshake included): 3 s late passes, 10 s late does not."""
    now = int(time.time())
    just_late = token(iat=now - 63, exp=now - 3)
    too_late = token(iat=now - 70, exp=now - 10)
    assert client.get("/whoami", headers={"Authorization": f"Bearer {just_late}"}).status_code == 200
    assert client.get("/whoami", headers={"Authorization": f"Bearer {too_late}"}).status_code == 401


def test_refresh_tokens_are_not_access_tokens(client):
    assert client.get("/whoami", headers={"Authorization": f"Bearer {token(typ='refresh')}"}).status_code == 401


def test_cookie_post_needs_an_allowed_origin(client):
    client.set_cookie("access_token", token())
    assert client.post("/whoami").status_code == 403
    assert client.post("/whoami", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/whoami", headers={"Origin": "https://chat.example"}).status_code == 200
    assert client.post("/whoami", headers={"Referer": "https://chat.example/page"}).status_code == 200
    # Same origin as the request itself (what a browser sends behind the gateway).
    assert client.post("/whoami", headers={"Origin": "http://localhost"}).status_code == 200


def test_bearer_post_is_not_subject_to_the_origin_check(client):
    response = client.post("/whoami", headers={"Authorization": f"Bearer {token()}", "Origin": "https://evil.example"})
    assert response.status_code == 200
