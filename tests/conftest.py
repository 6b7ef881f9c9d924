"""Fixtures that start the real product (nginx + gunicorn processes) on free loopback ports.

- `live_stack`: one stack for the whole session -- gateway, auth, one chat instance,
  frontend; SQLite files in a temporary run directory, no Redis.
- `start_stack(chat_instances=1, postgres=False, redis=False, env=None)`: a context
  manager for tests that need PostgreSQL, Redis, several chat instances or other settings:

      with start_stack(chat_instances=2, postgres=True, redis=True) as stack:
          requests.get(stack.url + "/api/healthz")
          stack.stop_chat(1, signal.SIGKILL); stack.start_chat(1)

A missing nginx, PostgreSQL or Redis skips locally and fails in CI (shared.testing).
"""

from __future__ import annotations

import secrets
import time
from contextlib import ExitStack, contextmanager
from typing import Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

import pytest

from shared.testing import free_port, require_executable, require_redis, temporary_postgres_database
from stack import Stack

# Cheap password hashing and generous login and registration limits: the suite logs in and
# registers a lot from one address.
# A just-spent refresh token is accepted again for this long (auth's REFRESH_REUSE_GRACE); kept
# short so tests of reuse detection wait little past it.
REUSE_GRACE = 1.0
TEST_ENV = {
    "REFRESH_REUSE_GRACE": str(int(REUSE_GRACE)),
    "PASSWORD_SCRYPT_N": "1024",
    "LOGIN_FAILURE_LIMIT_IP": "1000",
    "REGISTRATION_LIMIT_IP": "100000",
}


def after_reuse_grace(spent_at: float) -> None:
    """Return once a refresh token spent at `spent_at` (time.monotonic()) is past the reuse grace,
    so presenting it again counts as theft."""
    time.sleep(max(0.0, spent_at + REUSE_GRACE + 0.2 - time.monotonic()))


# Lines a test wants shown at the end of the run, outside output capture (the fault table).
SUMMARY = pytest.StashKey[list]()


def pytest_configure(config) -> None:
    config.stash[SUMMARY] = []


def pytest_terminal_summary(terminalreporter, config) -> None:
    for line in config.stash[SUMMARY]:
        terminalreporter.write_line(line)


def isolated_redis_url() -> tuple[str, dict[str, str]]:
    """A Redis URL on a random database plus per-stack key and channel prefixes.

    Pub/Sub channels are global to a Redis server (not per database), so parallel
    stacks (other test runs, benchmarks) also get their own Socket.IO channel.
    """
    parts = urlsplit(require_redis())
    url = urlunsplit((parts.scheme, parts.netloc, f"/{1 + secrets.randbelow(15)}", parts.query, ""))
    tag = secrets.token_hex(4)
    # Every service namespaces its keys and channels as `<REDIS_PREFIX>:<its own names>`.
    return url, {"REDIS_PREFIX": f"test-{tag}"}


@contextmanager
def running_stack(
    run_dir,
    *,
    chat_instances: int = 1,
    postgres: bool = False,
    redis: bool = False,
    env: Mapping[str, str] | None = None,
    database_urls: Mapping[str, str] | None = None,
    redis_url: str | None = None,
) -> Iterator[Stack]:
    """`database_urls` ({"auth_database_url": ..., "chat_database_url": ...}) and `redis_url`
    name servers of the test's own (e.g. one it will kill) instead of the shared ones."""
    require_executable("nginx")
    with ExitStack() as resources:
        databases = dict(database_urls or {})
        if postgres and not databases:
            databases = {
                "auth_database_url": resources.enter_context(temporary_postgres_database("stack_auth")),
                "chat_database_url": resources.enter_context(temporary_postgres_database("stack_chat")),
            }
        redis_env: dict[str, str] = {}
        if redis_url is None and (redis or chat_instances > 1):
            redis_url, redis_env = isolated_redis_url()
        stack = Stack(
            run_dir,
            gateway_port=free_port(),
            auth_port=free_port(),
            frontend_port=free_port(),
            chat_ports=[free_port() for _ in range(chat_instances)],
            chat_instances=chat_instances,
            redis_url=redis_url,
            env={**TEST_ENV, **redis_env, **(env or {})},
            die_with_parent=True,
            **databases,
        )
        stack.start()
        resources.callback(stack.stop)
        yield stack


@pytest.fixture(scope="session")
def start_stack(tmp_path_factory):
    """Factory: `with start_stack(chat_instances=2, redis=True, env={...}) as stack: ...`."""

    def start(chat_instances: int = 1, postgres: bool = False, redis: bool = False,
              env: Mapping[str, str] | None = None, **servers):
        return running_stack(tmp_path_factory.mktemp("stack"), chat_instances=chat_instances,
                             postgres=postgres, redis=redis, env=env, **servers)

    return start


@pytest.fixture(scope="session")
def live_stack(start_stack) -> Iterator[Stack]:
    with start_stack() as stack:
        yield stack
