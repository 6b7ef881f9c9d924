import threading
import time

import pytest

from .conftest import PASSWORD, assert_error

SMALL_LIMITS = {"login_failure_limit_user_address": 3, "login_failure_limit_ip": 5, "login_failure_limit_user": 6,
                "login_failure_window": 60, "login_backoff_max": 8}


@pytest.fixture(params=["memory", "redis"])
def limited_app(request, make_app):
    """An app with small limits, counting in this process or in Redis."""
    def factory(**overrides):
        settings = dict(SMALL_LIMITS)
        if request.param == "redis":
            settings.update(request.getfixturevalue("redis_settings"))
        return make_app(**{**settings, **overrides})
    return factory


def attempt(client, username="alice", password="wrong password", address="10.0.0.1", path="/auth/login"):
    return client.post(path, json={"username": username, "password": password},
                       headers={"X-Forwarded-For": address})


def register(client, username="alice", address="10.9.9.9"):
    response = client.post("/auth/register", json={"username": username, "email": f"{username}@example.com",
                                                   "password": PASSWORD}, headers={"X-Forwarded-For": address})
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/auth/login", "/auth/token"])
def test_guesses_from_one_address_are_refused_even_with_the_right_password(limited_app, path):
    client = limited_app().test_client()
    register(client)
    for _ in range(3):
        assert attempt(client, "ALICE", path=path).status_code == 401
    refused = attempt(client, password=PASSWORD, path=path)
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Set-Cookie" not in refused.headers
    register(client, "bob")  # other accounts are unaffected
    assert attempt(client, "bob", password=PASSWORD, path=path).status_code == 200


def test_an_attacker_does_not_lock_the_owner_out(limited_app):
    """The owner, from another address, logs in while one address is refused for guessing."""
    client = limited_app().test_client()
    register(client)
    for _ in range(5):
        attempt(client, address="10.6.6.6")
    assert attempt(client, password=PASSWORD, address="10.6.6.6").status_code == 429
    assert attempt(client, password=PASSWORD, address="10.0.0.2").status_code == 200


def test_concurrent_guesses_check_no_more_passwords_than_the_limit(limited_app):
    """Counted before the check: 16 guesses at once get exactly 3 passwords checked."""
    app = limited_app(scrypt_n=2**14)  # slow enough for the guesses to overlap
    register(app.test_client())
    start = threading.Barrier(16)
    statuses = []

    def guess():
        client = app.test_client()
        start.wait()
        statuses.append(attempt(client).status_code)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [401] * 3 + [429] * 13, statuses


def test_success_clears_the_account_and_address_counter(limited_app):
    client = limited_app().test_client()
    register(client)
    for _ in range(2):  # 4 failures: over the pair limit of 3 unless the success cleared it
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


def test_a_distributed_attack_meets_growing_backoff_but_known_addresses_get_in(limited_app):
    client = limited_app().test_client()
    register(client)
    assert attempt(client, password=PASSWORD, address="10.0.0.1").status_code == 200  # the owner's usual address
    for index in range(6):  # the account-wide limit, one guess per address
        assert attempt(client, address=f"10.1.0.{index}").status_code == 401
    # Beyond it, guesses from new addresses are spaced 1, 2, 4 ... s apart (at most 8 s here).
    assert attempt(client, address="10.1.1.1").status_code == 401
    refused = attempt(client, address="10.1.1.2")
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 1
    time.sleep(1.05)
    assert attempt(client, address="10.1.1.3").status_code == 401
    waits = [int(attempt(client, address=f"10.1.2.{index}").headers["Retry-After"]) for index in range(4)]
    assert all(1 <= wait <= 8 for wait in waits) and waits[-1] > 1, waits
    # The owner's known address is not slowed down by strangers' failures.
    assert attempt(client, password=PASSWORD, address="10.0.0.1").status_code == 200
    # A new address of the owner's waits at most the backoff, then gets in.
    refused = attempt(client, password=PASSWORD, address="10.0.0.77")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 8
    time.sleep(int(refused.headers["Retry-After"]) + 0.05)
    assert attempt(client, password=PASSWORD, address="10.0.0.77").status_code == 200


def test_window_expiry_lets_the_address_in_again(limited_app):
    client = limited_app(login_failure_window=1).test_client()
    register(client)
    for _ in range(3):
        attempt(client)
    assert attempt(client, password=PASSWORD).status_code == 429
    time.sleep(1.1)
    assert attempt(client, password=PASSWORD).status_code == 200


def test_redis_counters_are_shared_between_instances(make_app, redis_settings):
    settings = {**SMALL_LIMITS, **redis_settings}
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    register(first)
    for client in (first, second, first):
        assert attempt(client).status_code == 401
    assert_error(attempt(second, password=PASSWORD), 429, "rate_limited")


def test_unreachable_redis_is_503_not_500(make_app):
    from shared.testing import free_port

    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    assert_error(attempt(client, password=PASSWORD), 503, "unavailable")
    response = client.post("/auth/register", json={"username": "alice", "email": "a@example.com",
                                                   "password": PASSWORD})
    assert_error(response, 503, "unavailable")


def test_registrations_are_limited_per_address(limited_app):
    client = limited_app(registration_limit_ip=3).test_client()
    for index in range(3):
        register(client, f"user{index}", address="10.3.3.3")
    refused = client.post("/auth/register", headers={"X-Forwarded-For": "10.3.3.3"},
                          json={"username": "user9", "email": "user9@example.com", "password": PASSWORD})
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    register(client, "other", address="10.4.4.4")
