"""The Docker Swarm deployment, run for real on a single-node swarm: the project's images
(built from the unmodified Dockerfiles) deployed with `docker stack deploy -c
deploy/swarm/stack.yml`, keys as Docker secrets, services on an overlay network, the gateway
published on the node (mode: host).

With 10 WebSocket and 10 long-polling clients spread over three chat replicas by the
gateway's route cookie: steady traffic, `docker service update --force` (a rolling update
that starts each new task and waits for its health before stopping an old one), and a
killed task container that Swarm replaces. Every acknowledged message must reach every
member's clients once, in order, and be in the history. Then `docker stack rm`.

The test initialises a swarm if the engine is not in one and leaves it again at the end.
Figures go to test-artifacts/swarm-deployment.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from shared.testing import free_port, unavailable, wait_until
from tests.deploy import images
from tests.deploy.traffic import chat_world, traffic
from tests.deploy.traffic import table as traffic_table

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / "deploy" / "swarm" / "stack.yml"
ARTIFACT = ROOT / "test-artifacts" / "swarm-deployment.json"
SERVICES = ("auth_service", "chat_service", "web_frontend", "gateway")
REPLICAS = 3
CONVERGE_TIMEOUT = 300

FIGURES: dict[str, dict] = {}


def docker(*args: str, check: bool = True, timeout: float = 900) -> str:
    done = subprocess.run(["docker", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


class Stack:
    """One stack of this repository on the local swarm, with its own name, secrets and port."""

    def __init__(self) -> None:
        self.name = f"chatswarm{secrets.token_hex(3)}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            "IMAGE_PREFIX": "chatswarm", "IMAGE_TAG": self.name, "STACK_SECRET_PREFIX": self.name,
            "GATEWAY_PORT": str(self.port), "COOKIE_SECURE": "false", "CHAT_REPLICAS": str(REPLICAS),
        }

    def image(self, service: str) -> str:
        return f"chatswarm/{service}:{self.name}"

    def build(self) -> None:
        for service in SERVICES:
            docker("build", "-q", "-f", f"{service}/Dockerfile", "-t", self.image(service), ".")

    def create_secrets(self) -> None:
        passwords = {name: secrets.token_urlsafe(24) for name in ("postgres", "auth_db", "chat_db")}
        values = {
            "postgres_password": passwords["postgres"],
            "auth_db_password": passwords["auth_db"],
            "chat_db_password": passwords["chat_db"],
            "auth_database_url": f"postgresql://auth:{passwords['auth_db']}@postgres:5432/auth",
            "chat_database_url": f"postgresql://chat:{passwords['chat_db']}@postgres:5432/chat",
            "jwt_keys": f"key1:{secrets.token_urlsafe(48)}",
            "frontend_secret_key": secrets.token_urlsafe(48),
        }
        for name, value in values.items():
            subprocess.run(["docker", "secret", "create", f"{self.name}_{name}", "-"], input=value, text=True,
                           capture_output=True, check=True)

    def deploy(self) -> None:
        subprocess.run(["docker", "stack", "deploy", "-c", str(STACK_FILE), self.name], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, **self.environment})

    def service(self, service: str) -> str:
        return f"{self.name}_{service}"

    def running_tasks(self, service: str) -> list[dict]:
        listed = docker("service", "ps", self.service(service), "--filter", "desired-state=running",
                        "--format", "{{json .}}")
        return [task for task in map(json.loads, listed.splitlines()) if task["CurrentState"].startswith("Running")]

    def converged(self) -> bool:
        """Every service at its replica count, every task running (Swarm counts a task with a
        health check as running only once it is healthy), and the gateway answering."""
        listed = docker("service", "ls", "--filter", f"label=com.docker.stack.namespace={self.name}",
                        "--format", "{{.Name}} {{.Replicas}}").split("\n")
        replicas = dict(line.split(" ", 1) for line in listed if line)
        if len(replicas) != 6 or any(r.split("/")[0] != r.split("/")[1].split(" ")[0] for r in replicas.values()):
            return False
        if len(self.running_tasks("chat_service")) != REPLICAS:
            return False
        # The gateway re-resolves the services' names by itself: it must have found them too.
        try:
            return all(requests.get(f"{self.url}{path}", timeout=10).status_code == 200
                       for path in ("/auth/healthz", "/api/healthz", "/healthz"))
        except requests.RequestException:
            return False

    def wait_converged(self) -> None:
        wait_until(self.converged, CONVERGE_TIMEOUT, f"stack {self.name} with every task running and healthy")

    def containers(self, service: str) -> list[str]:
        return docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.service(service)}").split()

    def gateway_problems(self, since: float) -> str:
        logged = subprocess.run(["docker", "logs", "--since", str(int(since)), *self.containers("gateway")[:1]],
                                capture_output=True, text=True, timeout=60)
        lines = [line for line in (logged.stdout + logged.stderr).splitlines()
                 if '"status":5' in line or "[error]" in line or "[warn]" in line]
        return "\n".join(lines[-40:])

    def save_logs(self) -> None:
        """The last lines of every container of the stack (`docker service logs` can hang on
        tasks that failed to start, so each container is asked directly)."""
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        with open(ROOT / "test-artifacts" / "swarm-deployment.log", "w") as log:
            listed = docker("ps", "-a", "--filter", f"label=com.docker.stack.namespace={self.name}",
                            "--format", "{{.ID}} {{.Names}}", check=False)
            for line in listed.splitlines():
                container, name = line.split(" ", 1)
                logs = subprocess.run(["docker", "logs", "--tail", "60", container], capture_output=True, text=True,
                                      timeout=60)
                log.write(f"== {name}\n{logs.stdout}{logs.stderr}")

    def remove(self) -> None:
        """`docker stack rm`, then what a stack keeps: its volumes, the secrets, the image tags."""
        docker("stack", "rm", self.name, check=False)
        wait_until(lambda: not docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={self.name}"),
                   120, "the stack's containers to be gone")
        wait_until(lambda: not docker("network", "ls", "-q", "--filter",
                                      f"label=com.docker.stack.namespace={self.name}"),
                   60, "the stack's network to be gone")
        docker("volume", "rm", f"{self.name}_postgres-data", f"{self.name}_attachments", check=False)
        names = docker("secret", "ls", "-q", "--filter", f"name={self.name}_").split()
        if names:
            docker("secret", "rm", *names, check=False)
        # One tag per service stays (the one the Compose test keeps too), so that the next
        # build reuses these layers.
        for service in SERVICES:
            docker("tag", self.image(service), f"chat-deploy-cache:{service}", check=False)
        docker("rmi", *[self.image(service) for service in SERVICES], check=False)


@pytest.fixture(scope="module")
def stack():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        unavailable("no Docker engine (bash .ci/run installs and starts one)")
    started = time.monotonic()
    images.ensure_all()
    stack = Stack()
    stack.build()
    FIGURES["timings"] = {"base_images_and_build_s": round(time.monotonic() - started, 1)}
    initialised = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "inactive"
    if initialised:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        stack.create_secrets()
        started = time.monotonic()
        stack.deploy()
        stack.wait_converged()
        FIGURES["timings"]["deploy_converged_s"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        stack.save_logs()
        stack.remove()
        if initialised:
            docker("swarm", "leave", "--force", check=False)
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(FIGURES, indent=2) + "\n")


def table() -> list[str]:
    return traffic_table(FIGURES, str(ARTIFACT.relative_to(ROOT)))


@pytest.fixture(scope="module")
def world(stack):
    with chat_world(stack, REPLICAS) as world:
        yield world


def test_the_stack_uses_secrets_an_overlay_network_and_health_gated_rolling_updates(stack):
    chat = json.loads(docker("service", "inspect", stack.service("chat_service")))[0]["Spec"]
    assert chat["Mode"]["Replicated"]["Replicas"] == REPLICAS
    assert chat["EndpointSpec"]["Mode"] == "dnsrr"
    assert chat["UpdateConfig"]["Order"] == "start-first"
    assert chat["UpdateConfig"]["FailureAction"] == "rollback"
    assert chat["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"
    secret_targets = {s["File"]["Name"] for s in chat["TaskTemplate"]["ContainerSpec"]["Secrets"]}
    assert secret_targets == {"DATABASE_URL", "JWT_KEYS"}
    environment = " ".join(chat["TaskTemplate"]["ContainerSpec"].get("Env", []))
    assert "JWT_KEYS" not in environment and "postgresql://" not in environment
    network = chat["TaskTemplate"]["Networks"][0]["Target"]
    assert json.loads(docker("network", "inspect", network))[0]["Driver"] == "overlay"


def test_steady_traffic_over_three_replicas(stack, world):
    traffic(stack, world, FIGURES, "steady", lambda: time.sleep(3))


def test_rolling_update_under_traffic(stack, world):
    before = {task["ID"] for task in stack.running_tasks("chat_service")}

    def update() -> None:
        started = time.monotonic()
        docker("service", "update", "--force", "--detach=false", stack.service("chat_service"))
        stack.wait_converged()
        FIGURES["timings"]["rolling_update_s"] = round(time.monotonic() - started, 1)

    traffic(stack, world, FIGURES, "service update", update)
    after = {task["ID"] for task in stack.running_tasks("chat_service")}
    assert len(after) == REPLICAS and not before & after, (before, after)


def test_killed_task_is_replaced(stack, world):
    before = {task["ID"] for task in stack.running_tasks("chat_service")}
    victim = stack.containers("chat_service")[0]

    def kill() -> None:
        time.sleep(1)
        docker("kill", victim)
        wait_until(lambda: len(stack.running_tasks("chat_service")) == REPLICAS
                   and {t["ID"] for t in stack.running_tasks("chat_service")} != before,
                   CONVERGE_TIMEOUT, "Swarm to start a task in place of the killed one")

    traffic(stack, world, FIGURES, "docker kill", kill)
    assert victim not in stack.containers("chat_service")
    # Swarm's task list and the engine's container list are read apart; once seen with 2 of 3
    # containers right after Swarm reported 3 running tasks: wait for the engine to agree.
    wait_until(lambda: len(stack.containers("chat_service")) == REPLICAS, CONVERGE_TIMEOUT,
               "3 chat containers running")
