"""Password hashing with scrypt from the standard library.

Stored form: `scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can
be raised later and old hashes upgraded on the next successful login.

Why not a hashing library (passlib, argon2-cffi): `hashlib.scrypt` is OpenSSL's
memory-hard KDF, already in every Python we run, so there is no C extension to
build or pin. What such a library would add is exactly what the ~40 lines here do:
parameters and a random salt stored with each hash (`_parse`), a constant-time
comparison (`hmac.compare_digest`) and an upgrade when the configured cost rises
(`needs_rehash`, applied by `users.authenticate` after a successful login).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SALT_BYTES = 16
HASH_BYTES = 32
SCHEME = "scrypt"


@dataclass(frozen=True, order=True)
class ScryptParams:
    n: int
    r: int
    p: int

    def covers(self, other: "ScryptParams") -> bool:
        """True when these parameters are at least as costly as `other` in every respect."""
        return self.n >= other.n and self.r >= other.r and self.p >= other.p


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    # OpenSSL refuses by default above 32 MiB, which n=2**15, r=8 needs exactly.
    maxmem = 128 * params.r * (params.n + params.p + 2) + 1024 * 1024
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=params.n, r=params.r, p=params.p,
                          maxmem=maxmem, dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        log_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (1 <= log_n <= 30 and r >= 1 and p >= 1):
        return None
    return ScryptParams(2**log_n, r, p), salt, digest


class PasswordHasher:
    def __init__(self, params: ScryptParams) -> None:
        self.params = params
        # Verifying against this for unknown users makes them cost the same time as a wrong password.
        self._dummy_hash = self.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(SALT_BYTES)
        digest = _scrypt(password, salt, self.params)
        log_n = self.params.n.bit_length() - 1
        return f"{SCHEME}${log_n}${self.params.r}${self.params.p}${_b64(salt)}${_b64(digest)}"

    def verify(self, password: str, stored: str) -> bool:
        parsed = _parse(stored)
        if parsed is None:
            return False
        params, salt, expected = parsed
        return hmac.compare_digest(_scrypt(password, salt, params), expected)

    def verify_dummy(self, password: str) -> None:
        self.verify(password, self._dummy_hash)

    def needs_rehash(self, stored: str) -> bool:
        parsed = _parse(stored)
        return parsed is None or not parsed[0].covers(self.params)
