"""`make up` / `make status` / `make down` as an operator uses them: `python -m stack` in a
subprocess, on free ports and a run directory of the test's own.

One stack (two chat instances on Redis) serves the whole module, in order: started while
clients already call the gateway, processes killed one by one, brought back by `up`, chat
instances restarted one at a time under traffic, stopped with a WebSocket open, started again
right after, and left without its supervisor.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import socketio

from shared.testing import free_port, require_executable
from stack.stack import REPO_ROOT, port_in_use, process_start_time

from ..conftest import TEST_ENV, isolated_redis_url
from .chat_load import new_user

pytestmark = pytest.mark.system

# Requests sent right after `up` returns, half to the API and half Socket.IO handshakes, each
# with a route cookie of its own so they spread over both instances.
REQUESTS_AFTER_UP = 200
# "Back within seconds": a gunicorn service answers about 1.5 s after a kill (0.5 s back-off),
# up to 8 s on a machine with 2 CPUs at load average 14. Before: never.
BACK_WITHIN = 10.0


def cookieless_session() -> requests.Session:
    """A session that keeps no cookie: each request's route cookie is the only one it sends."""
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


@contextmanager
def traffic(url: str, callers: int = 1):
    """Clients calling /api/healthz through the gateway meanwhile, each time with a new route
    cookie (so over every instance); yields the Counter of what they got (statuses, or the name
    of the error when nothing answered)."""
    seen: Counter = Counter()
    stop = threading.Event()

    def call() -> None:
        with cookieless_session() as session:
            while not stop.is_set():
                try:
                    answer = session.get(url + "/api/healthz", cookies={"route": secrets.token_hex(4)}, timeout=5)
                    seen[answer.status_code] += 1
                except requests.RequestException as error:
                    seen[type(error).__name__] += 1
                time.sleep(0.005)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(callers)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def free_pair() -> int:
    """A free port whose successor is free too (CHAT_BASE_PORT for two instances)."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and not port_in_use(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


@dataclass
class Launcher:
    env: dict[str, str]
    run_dir: Path
    url: str
    after_up: Counter = field(default_factory=Counter)

    def run(self, command: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "stack", command], cwd=REPO_ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def state(self) -> dict:
        return json.loads((self.run_dir / "stack.json").read_text())

    def process(self, name: str) -> dict:
        return next(p for p in self.state()["processes"] if p["name"] == name)

    def status_row(self, name: str) -> list[str]:
        """`make status`'s line for one process, split into its columns."""
        output = self.run("status").stdout
        line = next(line for line in output.splitlines() if line.startswith(name + " "))
        return re.split(r"\s{2,}", line.strip())

    def up_under_traffic(self) -> subprocess.CompletedProcess:
        """`up` while a client keeps calling the gateway (a browser tab left open), then
        REQUESTS_AFTER_UP requests the moment it returns; their statuses go to `after_up`."""
        with traffic(self.url):
            started = self.run("up")
        self.after_up.clear()
        with cookieless_session() as session:
            for i in range(REQUESTS_AFTER_UP):
                path = "/api/healthz" if i % 2 else "/socket.io/?EIO=4&transport=polling"
                answer = session.get(self.url + path, cookies={"route": secrets.token_hex(4)}, timeout=5)
                self.after_up[answer.status_code] += 1
                if path == "/api/healthz" and answer.status_code == 200:
                    self.after_up[answer.json()["instance"]] += 1
        return started


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    require_executable("nginx")
    redis_url, redis_env = isolated_redis_url()
    run_dir = tmp_path_factory.mktemp("launcher")
    gateway_port = free_port()
    env = {
        **os.environ, **TEST_ENV, **redis_env,
        "RUN_DIR": str(run_dir), "REDIS_URL": redis_url, "CHAT_INSTANCES": "2",
        "GATEWAY_PORT": str(gateway_port), "AUTH_PORT": str(free_port()), "FRONTEND_PORT": str(free_port()),
        "CHAT_BASE_PORT": str(free_pair()),
    }
    launcher = Launcher(env, run_dir, f"http://127.0.0.1:{gateway_port}")
    started = launcher.up_under_traffic()
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield launcher
    finally:
        launcher.run("down")


def wait_back(launcher: Launcher, name: str, old_pid: int) -> float:
    """Seconds until `name` runs again under a new pid and answers its health check."""
    killed = time.monotonic()
    while time.monotonic() - killed < 20:
        process = launcher.process(name)
        if process["pid"] != old_pid and process_start_time(process["pid"]) == process["started"]:
            try:
                if requests.get(process["health_url"], timeout=1).status_code == 200:
                    return time.monotonic() - killed
            except requests.RequestException:
                pass
        time.sleep(0.05)
    pytest.fail(f"{name} did not come back within 20 s:\n{launcher.run('status').stdout}")


def test_up_returns_only_once_the_gateway_routes_to_every_instance(launcher):
    # Before: nginx held both instances as failed (they refused connections while starting)
    # and answered 503 "no live upstreams" to every one of these.
    assert launcher.after_up[503] == 0, launcher.after_up
    assert launcher.after_up[200] == REQUESTS_AFTER_UP, launcher.after_up
    assert launcher.after_up["chat-0"] > 0 and launcher.after_up["chat-1"] > 0, launcher.after_up


@pytest.mark.parametrize("name", ["auth", "chat-1", "gateway"])
def test_a_killed_process_is_back_within_seconds_and_status_says_so(launcher, name):
    pid = launcher.process(name)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_back(launcher, name, pid) < BACK_WITHIN

    row = launcher.status_row(name)
    assert row[3:6] == ["running", "1", "killed by SIGKILL"], row
    log = (launcher.run_dir / "logs" / "stack.log").read_text()
    assert f"restarting {name} (killed by SIGKILL, restart #1)" in log
    # Served again through the gateway (for chat-1: routed to again).
    deadline = time.monotonic() + BACK_WITHIN
    while True:
        answer = requests.get(launcher.url + "/api/healthz", cookies={"route": secrets.token_hex(4)}, timeout=5)
        assert answer.status_code == 200, answer.text
        if name != "chat-1" or answer.json()["instance"] == "chat-1":
            break
        assert time.monotonic() < deadline, "the gateway does not route to chat-1 again"


def test_up_on_a_half_dead_stack_brings_the_dead_part_back(launcher):
    # Before: `up` printed "already running", exited 0 and left the process dead.
    frontend = launcher.process("frontend")
    os.kill(frontend["pid"], signal.SIGKILL)
    started = launcher.run("up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert requests.get(launcher.url + "/", timeout=5).status_code == 200
    status = launcher.run("status")
    assert status.returncode == 0, status.stdout


def test_rolling_restart_under_traffic_fails_no_request(launcher):
    before = {name: launcher.process(name)["pid"] for name in ("chat-0", "chat-1")}
    with traffic(launcher.url, callers=2) as seen:
        restarted = launcher.run("restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    # Before: no such command; restarting instances by hand gave the 503 window of each start.
    assert set(seen) == {200}, seen
    for name, pid in before.items():
        assert launcher.process(name)["pid"] != pid
        assert launcher.status_row(name)[3] == "running"


def test_down_with_an_open_websocket_is_prompt(launcher):
    user = new_user(launcher.url, "launcher")
    client = socketio.Client(reconnection=False)
    client.connect(launcher.url, transports=["websocket"], auth={"token": user["token"]}, wait_timeout=10)
    try:
        assert client.transport() == "websocket"
        began = time.monotonic()
        stopped = launcher.run("down")
        took = time.monotonic() - began
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        # Before: 16.5 s (nginx waited for the socket until the launcher's 15 s stop timeout).
        # Now 2.9 s (the gateway's 2 s drain, then the chat instance's graceful stop), 4.3 s on
        # a machine with 2 CPUs at load average 11.
        assert took < 5.0, f"`down` took {took:.1f} s"
        assert not (launcher.run_dir / "stack.json").exists()
        assert not any(port_in_use(int(launcher.env[port])) for port in ("GATEWAY_PORT", "AUTH_PORT"))
        client.sleep(0.5)
        assert not client.connected
    finally:
        client.disconnect()


def test_up_right_after_down_gives_no_503(launcher):
    launcher.run("down")
    started = launcher.up_under_traffic()
    assert started.returncode == 0, started.stdout + started.stderr
    assert launcher.after_up[503] == 0, launcher.after_up
    assert launcher.after_up[200] == REQUESTS_AFTER_UP, launcher.after_up


def test_a_killed_supervisor_takes_its_processes_along_and_status_says_so(launcher):
    # The one process nothing restarts: its children must not run on unsupervised.
    supervisor = launcher.state()["supervisor"]["pid"]
    processes = launcher.state()["processes"]
    os.kill(supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(process_start_time(p["pid"]) == p["started"] for p in processes):
        assert time.monotonic() < deadline, "processes outlived their supervisor"
        time.sleep(0.05)
    status = launcher.run("status")
    assert status.returncode == 1 and "is not running" in status.stdout, status.stdout
    # `up` then starts it all again, like after `down` (test_up_right_after_down_gives_no_503).
