"""`shared.redis_client.Publisher` as a chat worker runs it: greenlets under gevent, on a real Redis.

In its own process, because gevent's monkey-patching must come before anything imports threading.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from shared.testing import require_redis

REPO = __file__.rsplit("/chat_service/", 1)[0]

SCENARIO = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import sys, gevent, redis
    from shared.redis_client import Publisher

    publisher = Publisher(redis.Redis.from_url(sys.argv[1]))
    publisher.publish_all([("PING",)])
    # A round trip the server holds for 0.3 s; two calls gather behind it, and the first
    # of them, which would send the next round trip, is killed while it waits.
    slow = gevent.spawn(publisher.publish_all, [("BLPOP", "publisher-test:empty", "0.3")])
    gevent.sleep(0.05)
    killed = gevent.spawn(publisher.publish_all, [("ECHO", "killed")])
    waiting = gevent.spawn(publisher.publish_all, [("ECHO", "waiting")])
    gevent.sleep(0.05)
    killed.kill()
    print(waiting.get(timeout=3), slow.get(timeout=3), publisher.publish_all([("ECHO", "later")]))
""")


def test_a_call_killed_while_it_waits_holds_up_no_other_call():
    result = subprocess.run([sys.executable, "-c", SCENARIO, require_redis()], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[b'waiting'] [None] [b'later']"
