import base64
import json
import time

import pytest

from shared import jwt

# RFC 7515 appendix A.1: the HS256 example (its key and signature are public).
RFC_KEY = base64.urlsafe_b64decode(
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
)
RFC_HEADER = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
RFC_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
RFC_SIGNATURE = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_TOKEN = f"{RFC_HEADER}.{RFC_PAYLOAD}.{RFC_SIGNATURE}"
RFC_EXP = 1300819380

ISS, AUD = "chat-auth", "chat"


@pytest.fixture
def ring():
    return jwt.KeyRing.from_spec("k1:" + "a" * 40)


def forge(header, payload, key=b"a" * 40):
    """A correctly signed token with arbitrary header and payload (objects or raw bytes)."""
    def seg(value):
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return jwt.b64url_encode(raw)

    signing_input = f"{seg(header)}.{seg(payload)}"
    return f"{signing_input}.{jwt.b64url_encode(jwt.sign(signing_input.encode(), key))}"


def claims(**overrides):
    now = int(time.time())
    base = {"iss": ISS, "aud": AUD, "sub": "1", "iat": now, "exp": now + 60}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_rfc7515_signature_is_reproduced():
    signature = jwt.sign(f"{RFC_HEADER}.{RFC_PAYLOAD}".encode(), RFC_KEY)
    assert jwt.b64url_encode(signature) == RFC_SIGNATURE


def test_rfc7515_token_verifies_before_its_expiry():
    ring = jwt.KeyRing(keys={"rfc": RFC_KEY}, signing_kid="rfc")
    decoded = jwt.decode(RFC_TOKEN, ring, issuer="joe", audience=None, now=RFC_EXP - 100)
    assert decoded == {"iss": "joe", "exp": RFC_EXP, "http://example.com/is_root": True}


def test_rfc7515_token_is_expired_today():
    ring = jwt.KeyRing(keys={"rfc": RFC_KEY}, signing_kid="rfc")
    with pytest.raises(jwt.ExpiredTokenError):
        jwt.decode(RFC_TOKEN, ring, issuer="joe", audience=None)


def test_rfc7515_token_with_one_flipped_signature_bit_is_invalid():
    ring = jwt.KeyRing(keys={"rfc": RFC_KEY}, signing_kid="rfc")
    tampered = RFC_TOKEN[:-1] + ("Y" if RFC_TOKEN[-1] != "Y" else "Z")
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(tampered, ring, issuer="joe", audience=None, now=RFC_EXP - 100)


def test_round_trip_carries_claims_and_kid(ring):
    token = jwt.encode(claims(name="alice"), ring)
    header = json.loads(jwt.b64url_decode(token.split(".")[0]))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    assert jwt.decode(token, ring, issuer=ISS, audience=AUD)["name"] == "alice"


def test_make_claims_sets_registered_claims():
    made = jwt.make_claims(subject="7", issuer=ISS, audience=AUD, lifetime_seconds=900, extra={"typ": "access"}, now=1000)
    assert made["sub"] == "7" and made["iat"] == 1000 and made["exp"] == 1900 and made["typ"] == "access"
    assert made["jti"] != jwt.make_claims(subject="7", issuer=ISS, audience=AUD, lifetime_seconds=900)["jti"]


def test_key_rotation_without_logging_anyone_out():
    old = jwt.KeyRing.from_spec("old:" + "o" * 40)
    token_from_old_key = jwt.encode(claims(), old)
    # Step 1: the new key is added and signs; the old one still verifies.
    both = jwt.KeyRing.from_spec("new:" + "n" * 40 + ",old:" + "o" * 40)
    assert both.signing_kid == "new"
    assert jwt.decode(token_from_old_key, both, issuer=ISS, audience=AUD)["sub"] == "1"
    token_from_new_key = jwt.encode(claims(), both)
    # Step 2: the old key is retired; its tokens stop working, the new ones keep working.
    new_only = jwt.KeyRing.from_spec("new:" + "n" * 40)
    assert jwt.decode(token_from_new_key, new_only, issuer=ISS, audience=AUD)["sub"] == "1"
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token_from_old_key, new_only, issuer=ISS, audience=AUD)


def test_signing_kid_can_be_chosen():
    ring = jwt.KeyRing.from_spec("a:" + "x" * 40 + ",b:" + "y" * 40, signing_kid="b")
    assert json.loads(jwt.b64url_decode(jwt.encode(claims(), ring).split(".")[0]))["kid"] == "b"


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:short", "bad kid!:" + "x" * 40, "k:" + "x" * 40 + ",k:" + "y" * 40],
)
def test_bad_key_ring_specs_are_refused(spec):
    with pytest.raises(jwt.KeyRingError):
        jwt.KeyRing.from_spec(spec)


def test_unknown_signing_kid_is_refused():
    with pytest.raises(jwt.KeyRingError):
        jwt.KeyRing.from_spec("a:" + "x" * 40, signing_kid="zzz")


def test_wrong_key_is_invalid(ring):
    other = jwt.KeyRing.from_spec("k1:" + "b" * 40)
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(jwt.encode(claims(), other), ring, issuer=ISS, audience=AUD)


def test_unknown_kid_is_invalid(ring):
    token = forge({"alg": "HS256", "kid": "nope"}, claims())
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "HS384", "RS256", "ES256", "hs256", "", None, 256])
def test_algorithm_is_pinned(ring, alg):
    header = {"kid": "k1"} if alg is None else {"alg": alg, "kid": "k1"}
    token = forge(header, claims())
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring, issuer=ISS, audience=AUD)


def test_alg_none_with_empty_signature_is_invalid(ring):
    unsigned = jwt.b64url_encode(b'{"alg":"none"}') + "." + jwt.b64url_encode(json.dumps(claims()).encode()) + "."
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(unsigned, ring, issuer=ISS, audience=AUD)


def test_crit_header_is_refused(ring):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(forge({"alg": "HS256", "kid": "k1", "crit": ["exp"]}, claims()), ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "....",
        "a b.c.d",
        "e30.e30.!!!",
        "e30.e30.a",  # a 1-char segment is never valid base64
        "e30=.e30.sig",  # padding is not allowed in compact form
        "é.e30.e30",
    ],
)
def test_malformed_compact_forms_are_invalid(ring, token):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("value", [None, 123, b"bytes", ["a", "b", "c"]])
def test_non_string_tokens_are_invalid(ring, value):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(value, ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize(
    "header, payload",
    [
        (b"not json", claims()),
        ({"alg": "HS256"}, b"not json"),
        ({"alg": "HS256"}, b"[1, 2, 3]"),
        ({"alg": "HS256"}, b'"a string"'),
        ({"alg": "HS256"}, b"42"),
        ({"alg": "HS256"}, b"null"),
        (b"[]", claims()),
        ({"alg": "HS256"}, b"\xff\xfe\x00"),
        ({"alg": "HS256"}, b'{"exp": NaN}'),
        ({"alg": "HS256"}, b'{"exp": Infinity}'),
        ({"alg": "HS256"}, b"[" * 100000 + b"]" * 100000),
    ],
)
def test_non_json_or_non_object_segments_are_invalid(ring, header, payload):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(forge(header, payload), ring, issuer=ISS, audience=AUD, max_length=10**7)


@pytest.mark.parametrize("exp", ["1700000000", None, True, [1], {"t": 1}, 1.5e400])
def test_wrong_exp_types_are_invalid(ring, exp):
    payload = claims()
    payload["exp"] = exp
    token = forge({"alg": "HS256", "kid": "k1"}, json.dumps(payload).replace("Infinity", "1e400").encode())
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("name", ["iat", "nbf"])
def test_wrong_iat_and_nbf_types_are_invalid(ring, name):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(jwt.encode(claims(**{name: "yesterday"}), ring), ring, issuer=ISS, audience=AUD)


def test_missing_exp_is_invalid(ring):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(jwt.encode(claims(exp=None), ring), ring, issuer=ISS, audience=AUD)


def test_expiry_honours_the_leeway(ring):
    now = time.time()
    slightly_late = jwt.encode(claims(iat=int(now) - 100, exp=int(now) - 10), ring)
    assert jwt.decode(slightly_late, ring, issuer=ISS, audience=AUD, leeway=30)["sub"] == "1"
    with pytest.raises(jwt.ExpiredTokenError):
        jwt.decode(slightly_late, ring, issuer=ISS, audience=AUD, leeway=5)


def test_expired_error_is_a_token_error_distinct_from_invalid(ring):
    token = jwt.encode(claims(iat=0, exp=1), ring)
    with pytest.raises(jwt.ExpiredTokenError) as caught:
        jwt.decode(token, ring, issuer=ISS, audience=AUD)
    assert isinstance(caught.value, jwt.TokenError)
    assert not isinstance(caught.value, jwt.InvalidTokenError)


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired(ring):
    token = jwt.encode(claims(iat=0, exp=1), jwt.KeyRing.from_spec("k1:" + "z" * 40))
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, ring, issuer=ISS, audience=AUD)


def test_future_iat_and_nbf_are_invalid(ring):
    later = int(time.time()) + 3600
    for extra in ({"iat": later}, {"nbf": later}):
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(jwt.encode(claims(**extra), ring), ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("iss", ["someone-else", None, 5])
def test_wrong_issuer_is_invalid(ring, iss):
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(jwt.encode(claims(iss=iss), ring), ring, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("aud, ok", [("chat", True), (["other", "chat"], True), ("other", False),
                                     (["other"], False), ([1, "chat"], False), (None, False), (7, False)])
def test_audience_check(ring, aud, ok):
    token = jwt.encode(claims(aud=aud), ring)
    if ok:
        assert jwt.decode(token, ring, issuer=ISS, audience=AUD)["sub"] == "1"
    else:
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(token, ring, issuer=ISS, audience=AUD)


def test_huge_tokens_are_refused_before_parsing(ring):
    huge = jwt.encode(claims(padding="x" * 20000), ring)
    with pytest.raises(jwt.InvalidTokenError, match="too large"):
        jwt.decode(huge, ring, issuer=ISS, audience=AUD)
    assert jwt.decode(huge, ring, issuer=ISS, audience=AUD, max_length=40000)["sub"] == "1"


def test_signature_comparison_is_constant_time(monkeypatch, ring):
    calls = []
    real = jwt.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(jwt.hmac, "compare_digest", spy)
    jwt.decode(jwt.encode(claims(), ring), ring, issuer=ISS, audience=AUD)
    assert len(calls) == 1
