"""Run the echo app (bench/echo_app.py) the way a chat instance runs: gunicorn -k gevent -w 1 + Redis queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from shared.testing import free_port

from . import procinfo

REPO_ROOT = Path(__file__).resolve().parent.parent


def gunicorn_command(app: str, port: int, worker_connections: int = 12000) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gevent",
        "-w",
        "1",
        "--worker-connections",
        str(worker_connections),
        "--no-control-socket",
        "--log-level",
        "warning",
        "-b",
        f"127.0.0.1:{port}",
        app,
    ]


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f}s")


class EchoTarget:
    """N echo instances joined by one Redis channel; clients connect to them directly."""

    kind = "echo"
    send_members = True

    def __init__(self, instances: int, redis_url: str, channel: str, log_dir: Path):
        self.instances = instances
        self.redis_url = redis_url
        self.channel = channel
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.urls: list[str] = []

    def start(self) -> "EchoTarget":
        env = dict(os.environ, ECHO_REDIS_URL=self.redis_url, ECHO_CHANNEL=self.channel)
        for i in range(self.instances):
            port = free_port()
            log = open(self.log_dir / f"echo-{i}.log", "ab")
            self.processes.append(
                subprocess.Popen(
                    gunicorn_command("bench.echo_app:app", port), cwd=REPO_ROOT, env=env, stdout=log, stderr=log
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            wait_healthy(f"{url}/healthz")
        return self

    @property
    def worker_pids(self) -> list[int]:
        pids = []
        for process in self.processes:
            pids.extend(procinfo.children(process.pid))
        return pids

    @property
    def single_worker_pid(self) -> int:
        return procinfo.children(self.processes[0].pid)[0]

    def conversations(self, count: int, first_id: int = 1) -> list[dict[str, Any]]:
        """Synthetic 1:1 conversations; members spread over the instances so Redis carries deliveries."""
        specs = []
        for i in range(count):
            conv_id = first_id + i
            members = []
            for j in range(2):
                user_id = 2 * conv_id + j
                members.append({"user_id": user_id, "auth": {"user_id": user_id}, "url": self.urls[(2 * i + j) % len(self.urls)]})
            specs.append({"id": conv_id, "members": members})
        return specs

    def idle_endpoints(self, count: int) -> tuple[list[dict], list[str]]:
        return [{"user_id": 10_000_000 + i} for i in range(min(count, 100))], self.urls[:1]

    def history(self, conversation_id: int) -> None:
        return None  # the echo app keeps nothing

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
