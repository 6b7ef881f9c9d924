"""Run the echo app (bench/echo_app.py) the way a chat instance runs: gunicorn -k gevent -w 1 + Redis queue."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from gateway.render import render_local
from shared.testing import require_executable

from . import procinfo

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_MEMBERS = 1000  # synthetic user ids are conversation id * MAX_MEMBERS + member index


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
    """N echo instances joined by one Redis channel, behind the product's own gateway config.

    The gateway (nginx, rendered by gateway.render like the launcher does) is in
    front so the ceiling pays for the same proxy hop as the product.
    """

    kind = "echo"
    send_members = True

    def __init__(self, instances: int, redis_url: str, channel: str, log_dir: Path):
        self.instances = instances
        self.redis_url = redis_url
        self.channel = channel
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.instance_urls: list[str] = []
        self.gateway: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "EchoTarget":
        env = dict(os.environ, ECHO_REDIS_URL=self.redis_url, ECHO_CHANNEL=self.channel)
        ports = [procinfo.listen_port() for _ in range(self.instances)]
        for i, port in enumerate(ports):
            with open(self.log_dir / f"echo-{i}.log", "ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        gunicorn_command("bench.echo_app:app", port), cwd=REPO_ROOT, env=env, stdout=log, stderr=log
                    )
                )
            self.instance_urls.append(f"http://127.0.0.1:{port}")
        for url in self.instance_urls:
            wait_healthy(f"{url}/healthz")
        self._start_gateway(ports)
        return self

    def _start_gateway(self, ports: list[int]) -> None:
        prefix = self.log_dir / f"echo{self.instances}-nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        port = procinfo.listen_port()
        # auth and frontend upstreams point at unused ports: the echo load only uses /socket.io/.
        conf = render_local(prefix=prefix, port=port, auth_port=procinfo.listen_port(), frontend_port=procinfo.listen_port(),
                            chat_ports=ports, user=pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None)
        (prefix / "nginx.conf").write_text(conf)
        nginx = require_executable("nginx")
        self.gateway = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "nginx-error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{self.url}/socket.io/?EIO=4&transport=polling")

    @property
    def worker_pids(self) -> list[int]:
        pids = []
        for process in self.processes:
            pids.extend(procinfo.children(process.pid))
        return pids

    @property
    def single_worker_pid(self) -> int:
        return procinfo.children(self.processes[0].pid)[0]

    def conversations(self, count: int, first_id: int = 1, size: int = 2) -> list[dict[str, Any]]:
        """Synthetic conversations of `size` members (the gateway spreads the sockets over the instances)."""
        specs = []
        for i in range(count):
            conv_id = first_id + i
            members = []
            for j in range(size):
                user_id = MAX_MEMBERS * conv_id + j
                members.append({"user_id": user_id, "auth": {"user_id": user_id}, "url": self.url})
            specs.append({"id": conv_id, "members": members})
        return specs

    def groups(self, size: int, count: int) -> list[dict[str, Any]]:
        """`count` conversations of `size` members, ids apart from the direct ones."""
        return self.conversations(count, first_id=100_000 + 1_000 * size, size=size)

    def idle_endpoints(self, count: int) -> tuple[list[dict], list[str]]:
        # Straight to the instance: what is measured is the instance, and 10,000 sockets through
        # nginx would take 20,000 of the sandbox's open files in the gateway alone.
        return [{"user_id": 10_000_000_000 + i} for i in range(min(count, 100))], self.instance_urls[:1]

    def history(self, conversation_id: int) -> None:
        return None  # the echo app keeps nothing

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.send_signal(signal.SIGQUIT)
            try:
                self.gateway.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
                self.gateway.wait(timeout=5)
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
