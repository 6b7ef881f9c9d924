import time

import pytest

from .conftest import PASSWORD, assert_error


@pytest.fixture(params=["memory", "redis"])
def limited_app(request, make_app):
    """An app with small login limits, counting in this process or in Redis."""
    def factory(**overrides):
        settings = {"login_failure_limit_user": 3, "login_failure_limit_ip": 5, "login_failure_window": 60}
        if request.param == "redis":
            settings.update(request.getfixturevalue("redis_settings"))
        return make_app(**{**settings, **overrides})
    return factory


def attempt(client, username="alice", password="wrong password", address="10.0.0.1", path="/auth/login"):
    return client.post(path, json={"username": username, "password": password},
                       headers={"X-Forwarded-For": address})


def register(client, username="alice"):
    response = client.post("/auth/register", json={"username": username, "email": f"{username}@example.com",
                                                   "password": PASSWORD})
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/auth/login", "/auth/token"])
def test_failures_per_username_lead_to_429_even_for_the_right_password(limited_app, path):
    client = limited_app().test_client()
    register(client)
    for _ in range(3):
        assert attempt(client, "ALICE", address="10.0.0.1", path=path).status_code == 401
    refused = attempt(client, password=PASSWORD, address="10.0.0.2", path=path)
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Set-Cookie" not in refused.headers
    register(client, "bob")  # other accounts are unaffected
    assert attempt(client, "bob", password=PASSWORD, address="10.0.0.3", path=path).status_code == 200


def test_success_clears_the_username_counter(limited_app):
    client = limited_app().test_client()
    register(client)
    for _ in range(2):
        assert attempt(client).status_code == 401
    assert attempt(client, password=PASSWORD).status_code == 200
    for _ in range(2):
        assert attempt(client).status_code == 401
    assert attempt(client, password=PASSWORD).status_code == 200


def test_failures_per_address_lead_to_429(limited_app):
    client = limited_app().test_client()
    register(client)
    for index in range(5):
        assert attempt(client, f"nobody{index}", address="10.0.0.9").status_code == 401
    assert_error(attempt(client, password=PASSWORD, address="10.0.0.9"), 429, "rate_limited")
    assert attempt(client, password=PASSWORD, address="10.0.0.10").status_code == 200


def test_window_expiry_lets_the_user_in_again(limited_app):
    client = limited_app(login_failure_window=1).test_client()
    register(client)
    for _ in range(3):
        attempt(client)
    assert attempt(client, password=PASSWORD).status_code == 429
    time.sleep(1.1)
    assert attempt(client, password=PASSWORD).status_code == 200


def test_redis_counters_are_shared_between_instances(make_app, redis_settings):
    settings = {"login_failure_limit_user": 3, **redis_settings}
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    register(first)
    for client in (first, second, first):
        assert attempt(client).status_code == 401
    assert_error(attempt(second, password=PASSWORD), 429, "rate_limited")


def test_unreachable_redis_is_503_not_500(make_app):
    from shared.testing import free_port

    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    register(client)
    assert_error(attempt(client, password=PASSWORD), 503, "unavailable")
