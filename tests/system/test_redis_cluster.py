"""Both services on a Redis Cluster of the test's own (3 primaries, 3 replicas), with
three chat instances behind the gateway: login limits, presence, ended sessions and
delivery work across instances, and when a primary is killed (SIGKILL) under traffic its
replica takes over, delivery resumes and catch-up fills the gap: nothing acknowledged is
lost, nothing duplicated, no 5xx but 503 (the fault suite's accounting,
test_faults.under_traffic). Ended sessions still reach every instance afterwards.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
import requests

from shared.testing import RedisClusterServers, wait_until

from ..conftest import SUMMARY
from .chat_load import new_user
from .test_faults import A, CATCH_UP_LIMIT, PEOPLE, World, populate, under_traffic
from .test_sessions_end import Login, assert_ended

pytestmark = [pytest.mark.system, pytest.mark.faults]

LOGIN_LIMIT = 3  # wrong passwords per account and address before 429
# The broadcast channel (`<REDIS_PREFIX>:socketio:all`): every instance listens to it, so
# killing its primary breaks every instance's subscription. The ended-sessions channel's
# slot is on the same primary (slots 741 and 1226 of the first third).
BROADCAST_CHANNEL = "chat:socketio:all"


@pytest.fixture(scope="module")
def world(start_stack, tmp_path_factory):
    with ExitStack() as resources:
        cluster = resources.enter_context(RedisClusterServers(str(tmp_path_factory.mktemp("redis-cluster"))))
        stack = resources.enter_context(start_stack(
            chat_instances=3, postgres=True, redis_url=cluster.url,
            env={"SOCKETIO_MANAGER": "sharded", "PRESENCE_TTL": "5",
                 "LOGIN_FAILURE_LIMIT_USER_ADDRESS": str(LOGIN_LIMIT)}))
        yield populate(resources, stack, None, cluster)


def test_login_limit_presence_and_ended_sessions_work_across_instances(world: World):
    user = new_user(world.stack.url, "limited")
    statuses = [requests.post(f"{world.stack.url}/auth/token", timeout=10,
                              json={"username": user["username"], "password": "wrong password"}).status_code
                for _ in range(LOGIN_LIMIT + 1)]
    assert statuses == [401] * LOGIN_LIMIT + [429]

    # u2 is connected only to instance C; u0 asks instance A.
    friends = requests.get(f"{world.stack.chat_urls[A]}/api/friends", headers=world.users["u0"]["headers"],
                           timeout=10)
    assert friends.status_code == 200, friends.text
    online = {f["username"]: f["online"] for f in friends.json()["friends"]}
    assert online == {world.users[p]["username"]: True for p in PEOPLE if p != "u0"}

    assert_logout_ends_the_session_everywhere(world)


def test_primary_killed_under_traffic(world: World, request):
    cluster = world.redis

    def fault(_senders) -> None:
        victim = cluster.primary_for(BROADCAST_CHANNEL)
        victim.kill()
        wait_until(lambda: cluster.primary_for(BROADCAST_CHANNEL) is not victim, 20,
                   "a replica to take over the killed primary's slots")
        time.sleep(2)  # traffic through the new primary

    row = under_traffic(world, "redis-cluster-primary-sigkill", fault)
    request.config.stash[SUMMARY].append(f"redis cluster, primary SIGKILL under traffic: {row}")
    assert row["caught_up_s"] <= CATCH_UP_LIMIT, row
    assert_logout_ends_the_session_everywhere(world)


def assert_logout_ends_the_session_everywhere(world: World) -> None:
    user = new_user(world.stack.url, "leaver")
    login = Login(world.stack.url, user["username"], world.stack.chat_urls)
    try:
        started = time.monotonic()
        logout = requests.post(f"{world.stack.url}/auth/logout", json={"refresh_token": login.refresh}, timeout=10)
        assert logout.status_code == 204
        assert_ended(login, started)
    finally:
        login.close()
