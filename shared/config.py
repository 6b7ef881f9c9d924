"""Reading configuration from environment variables.

Every service reads its settings in one place (its own `config.py`) with these
helpers, so a wrong value fails at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from typing import Mapping

from .jwt import KeyRing, KeyRingError

# Values that must never reach production: the placeholders of .env.example.
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development"}


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def env_str(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str:
    source = os.environ if env is None else env
    value = source.get(name)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"{name} must be set")
        return default
    return value


def env_int(name: str, default: int, env: Mapping[str, str] | None = None, *, minimum: int | None = None) -> int:
    raw = env_str(name, str(default), env)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def env_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    raw = env_str(name, "1" if default else "0", env).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), not {raw!r}")


def env_list(name: str, default: str = "", env: Mapping[str, str] | None = None) -> list[str]:
    return [item.strip() for item in env_str(name, default, env).split(",") if item.strip()]


def is_production(env: Mapping[str, str] | None = None) -> bool:
    return env_str("APP_ENV", "development", env).lower() == "production"


def key_ring_from_env(env: Mapping[str, str] | None = None) -> KeyRing:
    """The JWT key ring from `JWT_KEYS` (`kid:secret,...`) and `JWT_SIGNING_KID`.

    Outside production a missing ring falls back to a per-process random key,
    which is only good for a single-process test; `make up` generates and shares
    real local keys. In production a missing or placeholder secret is fatal.
    """
    spec = env_str("JWT_KEYS", "", env)
    if not spec:
        if is_production(env):
            raise ConfigError("JWT_KEYS must be set in production")
        spec = KeyRing.generate_spec("ephemeral")
    try:
        ring = KeyRing.from_spec(spec, env_str("JWT_SIGNING_KID", "", env) or None)
    except KeyRingError as exc:
        raise ConfigError(f"JWT_KEYS: {exc}") from None
    if is_production(env):
        for kid, key in ring.keys.items():
            if key.decode(errors="replace").lower() in PLACEHOLDER_SECRETS or key.startswith(b"change-me"):
                raise ConfigError(f"JWT_KEYS: key {kid!r} is a placeholder; set a real secret")
    return ring


def require_secret(name: str, env: Mapping[str, str] | None = None, *, min_length: int = 32) -> str:
    """A secret setting: required and non-placeholder in production, random otherwise."""
    value = env_str(name, "", env)
    if is_production(env):
        if value.lower() in PLACEHOLDER_SECRETS or value.startswith("change-me") or len(value) < min_length:
            raise ConfigError(f"{name} must be set to a real secret of at least {min_length} characters")
        return value
    if not value:
        import secrets

        return secrets.token_urlsafe(48)
    return value
