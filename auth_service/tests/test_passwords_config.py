import pytest

from auth_service.config import Config
from auth_service.services.passwords import PasswordHasher, ScryptParams
from shared.config import ConfigError

CHEAP = ScryptParams(2**10, 8, 1)


def test_hash_format_and_verification():
    hasher = PasswordHasher(CHEAP)
    stored = hasher.hash("pässword")
    scheme, log_n, r, p, salt, digest = stored.split("$")
    assert (scheme, log_n, r, p) == ("scrypt", "10", "8", "1")
    assert hasher.verify("pässword", stored)
    assert not hasher.verify("passwörd", stored)
    assert hasher.hash("pässword") != stored  # a new salt each time


@pytest.mark.parametrize("stored", ["", "scrypt$10$8$1$", "bcrypt$x", "scrypt$99$8$1$AAAA$AAAA",
                                    "scrypt$x$8$1$AAAA$AAAA", "scrypt$10$8$1$!!$AAAA"])
def test_malformed_stored_hashes_never_verify(stored):
    hasher = PasswordHasher(CHEAP)
    assert not hasher.verify("anything", stored)
    assert hasher.needs_rehash(stored)


def test_needs_rehash_when_any_parameter_is_lower():
    stored = PasswordHasher(CHEAP).hash("password")
    assert not PasswordHasher(CHEAP).needs_rehash(stored)
    assert PasswordHasher(ScryptParams(2**11, 8, 1)).needs_rehash(stored)
    assert PasswordHasher(ScryptParams(2**10, 8, 2)).needs_rehash(stored)
    assert not PasswordHasher(ScryptParams(2**9, 8, 1)).needs_rehash(stored)


def test_default_cost_is_usable():
    # n=2**15, r=8 needs exactly OpenSSL's default 32 MiB limit; the hasher must raise it.
    hasher = PasswordHasher(ScryptParams(2**15, 8, 1))
    assert hasher.verify("password", hasher.hash("password"))


KEYS = "k1:" + "a" * 48


def test_config_from_env_defaults():
    config = Config.from_env({"JWT_KEYS": KEYS})
    assert config.database_url == "sqlite:///auth.sqlite3"
    assert config.redis_url is None
    assert (config.jwt_issuer, config.jwt_audience) == ("chat-auth", "chat")
    assert (config.access_token_ttl, config.refresh_token_ttl) == (900, 2592000)
    assert (config.scrypt_n, config.scrypt_r, config.scrypt_p) == (2**15, 8, 1)
    assert (config.login_failure_limit_user_address, config.login_failure_limit_ip, config.login_failure_limit_user,
            config.login_failure_window, config.login_backoff_max) == (5, 50, 20, 900, 300)
    assert (config.registration_limit_ip, config.registration_window) == (10, 3600)
    assert config.trust_proxy == 1 and config.cookie_secure is False
    assert config.key_ring.signing_kid == "k1"


def test_config_from_env_reads_every_setting():
    config = Config.from_env({
        "JWT_KEYS": KEYS + ",k2:" + "b" * 48, "JWT_SIGNING_KID": "k2", "DATABASE_URL": "postgresql://db/auth",
        "REDIS_URL": "redis://r:6379/1", "ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "COOKIE_SECURE": "true", "ACCESS_TOKEN_TTL": "60", "PASSWORD_SCRYPT_N": "16384",
        "LOGIN_FAILURE_LIMIT_USER": "3", "LOGIN_FAILURE_LIMIT_USER_ADDRESS": "2", "LOGIN_BACKOFF_MAX": "30",
        "REGISTRATION_LIMIT_IP": "4", "REGISTRATION_WINDOW": "60", "TRUST_PROXY": "0", "MAX_CONTENT_LENGTH": "2048"})
    assert config.key_ring.signing_kid == "k2" and config.database_url == "postgresql://db/auth"
    assert config.allowed_origins == ("https://a.example", "https://b.example")
    assert config.cookie_secure and config.access_token_ttl == 60 and config.scrypt_n == 16384
    assert config.login_failure_limit_user == 3 and config.trust_proxy == 0 and config.max_content_length == 2048
    assert (config.login_failure_limit_user_address, config.login_backoff_max) == (2, 30)
    assert (config.registration_limit_ip, config.registration_window) == (4, 60)


@pytest.mark.parametrize(("env", "prefix"), [
    ({}, "auth"),
    ({"REDIS_PREFIX": "stack1"}, "stack1"),
    ({"REDIS_KEY_PREFIX": "stack1:"}, "stack1"),  # the old name, with its separator
    ({"REDIS_PREFIX": "new", "REDIS_KEY_PREFIX": "old:"}, "new"),
])
def test_redis_prefix_is_read_under_its_shared_name_and_its_old_one(env, prefix):
    assert Config.from_env({"JWT_KEYS": KEYS, **env}).redis_prefix == prefix


@pytest.mark.parametrize("env", [
    {"JWT_KEYS": KEYS, "PASSWORD_SCRYPT_N": "1000"},
    {"JWT_KEYS": KEYS, "ACCESS_TOKEN_TTL": "soon"},
    {"JWT_KEYS": KEYS, "COOKIE_SECURE": "maybe"},
    {"JWT_KEYS": KEYS, "REDIS_URL": "redis+cluster://127.0.0.1:7000/0"},
    {"JWT_KEYS": KEYS, "REDIS_URL": "redis+cluster://127.0.0.1"},
    {"APP_ENV": "production"},
    {"APP_ENV": "production", "JWT_KEYS": "k:change-me" + "x" * 40},
])
def test_bad_settings_fail_at_start_up(env):
    with pytest.raises(ConfigError):
        Config.from_env(env)
