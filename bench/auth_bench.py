"""Authentication costs: logins through the gateway (real scrypt cost) and local token verification.

    python -m bench.auth_bench              # starts a small stack (SQLite) with the default KDF
    python -m bench.auth_bench --url URL    # measures a running stack (its users are left in place)

Prints the median login time (POST /auth/token through the gateway, one client
at a time), logins/s with several concurrent clients, and the median time of
one `shared.jwt.decode` (what chat_service does per Socket.IO handshake).
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Any

import requests

from shared import jwt

from . import procinfo

PASSWORD = "auth-bench-password"
MAX_LOGINS = 5000


def default_kdf() -> dict[str, int]:
    """auth_service's default scrypt parameters (its Config defaults)."""
    from auth_service.config import Config

    defaults = {f.name: f.default for f in fields(Config)}
    return {"n": defaults["scrypt_n"], "r": defaults["scrypt_r"], "p": defaults["scrypt_p"]}


def kdf_ms_per_hash(n: int, r: int, p: int, rounds: int = 5) -> float:
    """Median time of one scrypt hash with these parameters, in this process."""
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        hashlib.scrypt(b"password", salt=secrets.token_bytes(16), n=n, r=r, p=p, maxmem=maxmem, dklen=32)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def token_verification(duration: float = 2.0, batch: int = 1000) -> dict[str, float]:
    """shared.jwt.decode of a valid access token, in a loop for about `duration` seconds."""
    ring = jwt.KeyRing.from_spec(jwt.KeyRing.generate_spec("bench"))
    claims = jwt.make_claims(subject="42", issuer="chat-auth", audience="chat", lifetime_seconds=900,
                             extra={"name": "bench", "typ": "access"})
    token = jwt.encode(claims, ring)
    per_call = []
    done = 0
    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline and done < 10_000_000:
        batch_started = time.perf_counter()
        for _ in range(batch):
            jwt.decode(token, ring, issuer="chat-auth", audience="chat")
        per_call.append((time.perf_counter() - batch_started) / batch)
        done += batch
    elapsed = time.perf_counter() - started
    return {"verifications_per_s": done / elapsed, "median_us": statistics.median(per_call) * 1e6}


def register_users(base_url: str, count: int) -> list[str]:
    prefix = "authbench" + secrets.token_hex(3)
    names = [f"{prefix}_{i}" for i in range(count)]
    for name in names:
        response = requests.post(f"{base_url}/auth/register", timeout=30,
                                 json={"username": name, "email": f"{name}@bench.test", "password": PASSWORD})
        if response.status_code != 201:
            raise RuntimeError(f"register {name}: {response.status_code} {response.text[:200]}")
    return names


def _login(session: requests.Session, base_url: str, username: str) -> float:
    started = time.perf_counter()
    response = session.post(f"{base_url}/auth/token", json={"username": username, "password": PASSWORD}, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"login {username}: {response.status_code} {response.text[:200]}")
    return time.perf_counter() - started


def logins(base_url: str, usernames: list[str], duration: float, concurrency: int) -> dict[str, Any]:
    """Sequential logins (median time) and then `concurrency` parallel clients (logins/s)."""
    session = requests.Session()
    _login(session, base_url, usernames[0])  # the first login may upgrade a hash; not timed
    sequential = []
    deadline = time.monotonic() + duration / 2
    while time.monotonic() < deadline and len(sequential) < MAX_LOGINS:
        sequential.append(_login(session, base_url, usernames[len(sequential) % len(usernames)]))

    counts = [0] * concurrency
    stop = time.monotonic() + duration / 2

    def client(index: int) -> None:
        own = requests.Session()
        while time.monotonic() < stop and counts[index] < MAX_LOGINS:
            _login(own, base_url, usernames[index % len(usernames)])
            counts[index] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "login_median_ms": statistics.median(sequential) * 1000.0,
        "login_p95_ms": sorted(sequential)[int(0.95 * (len(sequential) - 1))] * 1000.0,
        "logins_sequential": len(sequential),
        "logins_per_s": sum(counts) / elapsed,
        "login_concurrency": concurrency,
    }


def run_against(base_url: str, duration: float, concurrency: int) -> dict[str, Any]:
    usernames = register_users(base_url, concurrency)
    return logins(base_url, usernames, duration, concurrency)


def run_with_own_stack(duration: float, concurrency: int) -> dict[str, Any]:
    """A small stack (SQLite, one chat instance) with auth at its default KDF cost."""
    from stack.stack import Stack

    with tempfile.TemporaryDirectory(prefix="auth-bench-") as run_dir:
        port = procinfo.listen_port
        stack = Stack(run_dir, gateway_port=port(), auth_port=port(), frontend_port=port(), chat_ports=[port()],
                      env=_real_kdf_env(), die_with_parent=True)
        with stack:
            return run_against(stack.url, duration, concurrency)


def _real_kdf_env() -> dict[str, str]:
    kdf = default_kdf()
    # Every benchmark user registers from one address, hence no registration limit.
    return {"PASSWORD_SCRYPT_N": str(kdf["n"]), "PASSWORD_SCRYPT_R": str(kdf["r"]), "PASSWORD_SCRYPT_P": str(kdf["p"]),
            "REGISTRATION_LIMIT_IP": "1000000"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.auth_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="gateway URL of a running stack (default: start a small one)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of logins (half sequential, half parallel)")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)

    kdf = default_kdf()
    if args.url:
        result = run_against(args.url, args.duration, args.concurrency)
    else:
        result = run_with_own_stack(args.duration, args.concurrency)
    verification = token_verification()
    print(f"KDF: scrypt n=2^{kdf['n'].bit_length() - 1} r={kdf['r']} p={kdf['p']}, "
          f"{kdf_ms_per_hash(**kdf):.1f} ms per hash (in-process)")
    print(f"median login time through the gateway: {result['login_median_ms']:.1f} ms "
          f"(p95 {result['login_p95_ms']:.1f} ms, {result['logins_sequential']} sequential logins)")
    print(f"logins/s with {args.concurrency} concurrent clients: {result['logins_per_s']:.1f}")
    print(f"median token verification time (shared.jwt.decode): {verification['median_us']:.1f} us "
          f"({verification['verifications_per_s']:.0f}/s on one core)")


if __name__ == "__main__":
    main()
