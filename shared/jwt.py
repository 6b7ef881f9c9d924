"""JSON Web Tokens, HS256 only, on the standard library.

A deliberately small JWT implementation (RFC 7519 / RFC 7515 compact form):

* the algorithm is pinned: a header whose `alg` is anything but `HS256`
  (`none`, `HS512`, `RS256`, ...) is rejected before any key is touched;
* keys live in a `KeyRing` of named keys (`kid`): tokens are signed with the
  ring's signing key and verified with whichever key their `kid` names, so a new
  key can be introduced and an old one retired without logging anyone out;
* signatures are compared in constant time (`hmac.compare_digest`);
* `exp`, `iat`, `nbf`, `iss` and `aud` are checked with a small leeway;
* every failure raises `InvalidTokenError` or `ExpiredTokenError` (both
  `TokenError`), so callers can tell "refresh and retry" from "go away".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

ALGORITHM = "HS256"
# Clock skew tolerated between the service that issues a token and the one that checks it.
# Every verifier (REST requests of every service, the Socket.IO handshake and the events of an
# open socket) uses this one value, so a token is accepted everywhere or nowhere.
DEFAULT_LEEWAY_SECONDS = 5
DEFAULT_MAX_TOKEN_LENGTH = 8192
MIN_KEY_BYTES = 32

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenError(Exception):
    """A token was not accepted."""


class InvalidTokenError(TokenError):
    """Malformed, wrongly signed, wrong algorithm, issuer or audience."""


class ExpiredTokenError(TokenError):
    """Well-formed and correctly signed, but past its `exp` (beyond the leeway)."""


class KeyRingError(ValueError):
    """The key ring configuration is unusable."""


@dataclass(frozen=True)
class KeyRing:
    """Named HMAC keys; `signing_kid` names the one new tokens are signed with."""

    keys: Mapping[str, bytes]
    signing_kid: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("the key ring is empty")
        for kid, key in self.keys.items():
            if not kid or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", kid):
                raise KeyRingError(f"bad key id {kid!r}")
            if len(key) < MIN_KEY_BYTES:
                raise KeyRingError(f"key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
        if self.signing_kid not in self.keys:
            raise KeyRingError(f"signing key {self.signing_kid!r} is not in the ring")

    @classmethod
    def from_spec(cls, spec: str, signing_kid: str | None = None) -> "KeyRing":
        """Parse `kid1:secret1,kid2:secret2` (the form used in configuration).

        The signing key defaults to the first one listed, so rotating is: add the
        new key first, wait for every verifier to have it, retire the old one
        after the longest token lifetime has passed.
        """
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            kid, sep, secret = item.partition(":")
            if not sep:
                raise KeyRingError("each key must be written kid:secret")
            if kid.strip() in keys:
                raise KeyRingError(f"key id {kid.strip()!r} appears twice")
            keys[kid.strip()] = secret.strip().encode()
        if not keys:
            raise KeyRingError("the key ring is empty")
        return cls(keys=keys, signing_kid=signing_kid or next(iter(keys)))

    @staticmethod
    def generate_spec(kid: str = "local") -> str:
        """A fresh one-key spec, for local development."""
        return f"{kid}:{secrets.token_urlsafe(48)}"

    def key(self, kid: str) -> bytes | None:
        return self.keys.get(kid)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    if not _SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise InvalidTokenError("malformed token")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex already guards
        raise InvalidTokenError("malformed token") from exc


def sign(signing_input: bytes, key: bytes) -> bytes:
    """The raw HS256 signature of `signing_input` (header.payload)."""
    return hmac.new(key, signing_input, hashlib.sha256).digest()


def _json_segment(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def encode(claims: Mapping[str, Any], ring: KeyRing) -> str:
    """Sign `claims` with the ring's signing key."""
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": ring.signing_kid}
    signing_input = f"{_json_segment(header)}.{_json_segment(claims)}"
    signature = sign(signing_input.encode("ascii"), ring.keys[ring.signing_kid])
    return f"{signing_input}.{b64url_encode(signature)}"


def _decode_object(segment: str) -> dict[str, Any]:
    raw = b64url_decode(segment)
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidTokenError("malformed token") from exc
    if not isinstance(value, dict):
        raise InvalidTokenError("malformed token")
    return value


def _reject_constant(name: str) -> None:
    # json.loads would otherwise accept NaN and Infinity, which are not JSON.
    raise ValueError(name)


def _numeric_date(claims: Mapping[str, Any], name: str, required: bool) -> float | None:
    if name not in claims:
        if required:
            raise InvalidTokenError(f"missing {name} claim")
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidTokenError(f"bad {name} claim")
    return float(value)


def decode(
    token: Any,
    ring: KeyRing,
    *,
    issuer: str | None,
    audience: str | None,
    leeway: float = DEFAULT_LEEWAY_SECONDS,
    max_length: int = DEFAULT_MAX_TOKEN_LENGTH,
    require_exp: bool = True,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify `token` and return its claims.

    `issuer`/`audience` of None skip that check (only the RFC test vectors do).
    Raises `ExpiredTokenError` only for a token that is otherwise entirely
    valid, so "expired" always means "this really was ours".
    """
    if not isinstance(token, str) or not token:
        raise InvalidTokenError("malformed token")
    if len(token) > max_length:
        raise InvalidTokenError("token too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("malformed token")
    header_segment, payload_segment, signature_segment = parts

    header = _decode_object(header_segment)
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError("unsupported algorithm")
    if "crit" in header:
        raise InvalidTokenError("unsupported critical header")
    kid = header.get("kid", ring.signing_kid)
    key = ring.key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidTokenError("unknown key")

    expected = sign(f"{header_segment}.{payload_segment}".encode("ascii"), key)
    if not hmac.compare_digest(expected, b64url_decode(signature_segment)):
        raise InvalidTokenError("bad signature")

    claims = _decode_object(payload_segment)
    current = time.time() if now is None else now
    exp = _numeric_date(claims, "exp", required=require_exp)
    iat = _numeric_date(claims, "iat", required=False)
    nbf = _numeric_date(claims, "nbf", required=False)
    if iat is not None and iat > current + leeway:
        raise InvalidTokenError("token issued in the future")
    if nbf is not None and nbf > current + leeway:
        raise InvalidTokenError("token not yet valid")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidTokenError("wrong issuer")
    if audience is not None and not _audience_matches(claims.get("aud"), audience):
        raise InvalidTokenError("wrong audience")
    if exp is not None and exp <= current - leeway:
        raise ExpiredTokenError("token expired")
    return claims


def _audience_matches(aud: Any, expected: str) -> bool:
    if isinstance(aud, str):
        return aud == expected
    if isinstance(aud, list):
        return all(isinstance(a, str) for a in aud) and expected in aud
    return False


def make_claims(
    *,
    subject: str,
    issuer: str,
    audience: str,
    lifetime_seconds: int,
    extra: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Registered claims for a new token: iss, aud, sub, iat, exp and a random jti."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = dict(extra or {})
    claims.update(
        iss=issuer,
        aud=audience,
        sub=subject,
        iat=issued,
        exp=issued + int(lifetime_seconds),
        jti=secrets.token_urlsafe(16),
    )
    return claims


__all__: Iterable[str] = [
    "ALGORITHM",
    "KeyRing",
    "KeyRingError",
    "TokenError",
    "InvalidTokenError",
    "ExpiredTokenError",
    "encode",
    "decode",
    "make_claims",
    "sign",
    "b64url_encode",
    "b64url_decode",
]
