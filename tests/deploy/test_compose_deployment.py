"""The Docker Compose deployment, run for real: every image built from the project's own
Dockerfiles and docker-compose.yml (unmodified; tests/deploy/compose.test.yml only lowers
the open-files limit this sandbox caps), driven through the gateway's published port.

The commands are the README's "Deployment with Docker Compose": a `.env` filled in from
`.env.example`, `up -d --build`, `up -d --scale chat_service=3`, `ps`. Then, with 10
WebSocket and 10 long-polling clients spread over the three replicas and five senders:
steady traffic, `docker kill` of a replica, a rolling restart, scaling 3 -> 1 -> 3. Every
acknowledged message must reach every member's clients once, in order, and be in the
history; nobody may see an error beyond a reconnect. Then `down` + `up` keeps the data,
the echo bot from examples/ answers from its own container, every container is healthy
and runs as non-root, and a service without its secrets refuses to start and says why.

Base images come from tests/deploy/images (no registry here). The figures are printed
and written to test-artifacts/compose-deployment.json.
"""

from __future__ import annotations

import json
import re
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
from tests.system.chat_load import history, new_user

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = Path(__file__).resolve().parent / "compose.test.yml"
ARTIFACT = ROOT / "test-artifacts" / "compose-deployment.json"
REPLICAS = 3
HEALTHY_TIMEOUT = 240

FIGURES: dict[str, dict] = {}


def compose_command() -> list[str]:
    """`docker compose` (v2) where installed, else Debian 12's `docker-compose` (v1.29)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unavailable("Docker Compose is not installed (Debian: apt-get install docker-compose)")


class Deployment:
    """One compose project of this repository, with its own name, `.env` and gateway port."""

    def __init__(self, env_dir: Path) -> None:
        self.project = f"chatdeploy{secrets.token_hex(3)}"
        self.env_file = env_dir / ".env"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = {
            "JWT_KEYS": f"key1:{secrets.token_urlsafe(48)}",
            "FRONTEND_SECRET_KEY": secrets.token_urlsafe(48),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
            "AUTH_DB_PASSWORD": secrets.token_urlsafe(24),
            "CHAT_DB_PASSWORD": secrets.token_urlsafe(24),
            "COOKIE_SECURE": "false",  # plain HTTP on loopback
            "GATEWAY_BIND": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
        }
        self.base = [*compose_command(), "--project-name", self.project, "--project-directory", str(ROOT),
                     "-f", str(ROOT / "docker-compose.yml"), "-f", str(OVERRIDE), "--env-file", str(self.env_file)]

    def write_env(self, **overrides: str) -> None:
        """`cp .env.example .env`, then every secret filled in, as the README asks."""
        text = (ROOT / ".env.example").read_text()
        for name, value in {**self.settings, **overrides}.items():
            text, count = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
            assert count == 1, f"{name} is not in .env.example"
        self.env_file.write_text(text)

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.base, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def containers(self, service: str = "") -> list[str]:
        return self.run("ps", "-q", *([service] if service else [])).stdout.split()

    def state(self, container: str) -> dict:
        shown = subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True)
        return json.loads(shown.stdout)[0]

    def wait_healthy(self, replicas: int = REPLICAS) -> float:
        def healthy() -> bool:
            chat = self.containers("chat_service")
            if len(chat) != replicas:
                return False
            states = [self.state(c)["State"] for c in self.containers()]
            return all(s.get("Health", {}).get("Status") == "healthy" for s in states)

        return wait_until(healthy, HEALTHY_TIMEOUT, f"every container healthy with {replicas} chat replicas")

    def keep_images_as_cache(self) -> None:
        """Untag this run's images, keeping one tag per service so the next run's build reuses
        their layers instead of piling up a set of tags per run."""
        listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}", "--filter",
                                 f"reference={self.project}*"], capture_output=True, text=True).stdout.split()
        for repository in listed:
            service = repository[len(self.project) + 1:]
            subprocess.run(["docker", "tag", repository, f"chat-deploy-cache:{service}"], capture_output=True)
            subprocess.run(["docker", "rmi", repository], capture_output=True)

    def gateway_problems(self, since: float) -> str:
        """What the gateway logged since `since` (epoch seconds) besides success: its error log
        lines and every access log line of a 5xx answer, with the upstreams it tried."""
        lines = []
        for container in self.containers("gateway"):
            logged = subprocess.run(["docker", "logs", "--since", str(int(since)), container],
                                    capture_output=True, text=True)
            lines += [line for line in (logged.stdout + logged.stderr).splitlines()
                      if '"status":5' in line or "[error]" in line or "[warn]" in line]
        return "\n".join(lines[-40:])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        unavailable("no Docker engine (bash .ci/run installs and starts one)")
    started = time.monotonic()
    images.ensure_all()
    FIGURES["timings"] = {"base_images_s": round(time.monotonic() - started, 1)}
    deployment = Deployment(tmp_path_factory.mktemp("compose"))
    deployment.write_env()
    try:
        started = time.monotonic()
        deployment.run("up", "-d", "--build")
        deployment.wait_healthy(replicas=1)
        FIGURES["timings"]["build_and_up_healthy_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        deployment.run("up", "-d", "--scale", f"chat_service={REPLICAS}")
        deployment.wait_healthy()
        FIGURES["timings"]["scale_to_3_healthy_s"] = round(time.monotonic() - started, 1)
        assert "healthy" in deployment.run("ps").stdout
        yield deployment
    finally:
        logs = deployment.run("logs", "--no-color", "--tail", "200", check=False).stdout
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "compose-deployment.log").write_text(logs)
        deployment.run("down", "-v", "--remove-orphans", check=False)
        deployment.keep_images_as_cache()
        report()


@pytest.fixture(scope="module")
def world(deployment):
    with chat_world(deployment, REPLICAS) as world:
        yield world


def table() -> list[str]:
    return traffic_table(FIGURES, str(ARTIFACT.relative_to(ROOT)))


def report() -> None:
    if FIGURES:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(FIGURES, indent=2) + "\n")


def test_steady_traffic_over_three_replicas(deployment, world):
    traffic(deployment, world, FIGURES, "steady", lambda: time.sleep(3))


def test_docker_kill_of_a_replica_under_traffic(deployment, world):
    victim = deployment.containers("chat_service")[0]

    def kill() -> None:
        time.sleep(1)
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True)

    traffic(deployment, world, FIGURES, "docker kill", kill)
    # The restart policy brings it back (unless-stopped); either way three replicas serve again.
    if deployment.state(victim)["State"]["Status"] != "running":
        subprocess.run(["docker", "start", victim], check=True, capture_output=True)
    deployment.wait_healthy()


def test_rolling_restart(deployment, world):
    def restart_one_by_one() -> None:
        for container in deployment.containers("chat_service"):
            subprocess.run(["docker", "restart", container], check=True, capture_output=True)
            deployment.wait_healthy()

    traffic(deployment, world, FIGURES, "rolling restart", restart_one_by_one)


def test_scale_down_and_up(deployment, world):
    def scale() -> None:
        deployment.run("up", "-d", "--scale", "chat_service=1")
        deployment.wait_healthy(replicas=1)
        time.sleep(3)
        deployment.run("up", "-d", "--scale", f"chat_service={REPLICAS}")
        deployment.wait_healthy()

    traffic(deployment, world, FIGURES, "scale 3-1-3", scale)


def test_down_and_up_keeps_users_and_messages(deployment, world):
    reader, conversation = world["users"][0], world["conversations"][0]
    before = history(deployment.url, reader, conversation)
    assert before
    for client in world["clients"]:
        client.close()
    deployment.run("down")
    started = time.monotonic()
    deployment.run("up", "-d", "--scale", f"chat_service={REPLICAS}")
    deployment.wait_healthy()
    FIGURES["timings"]["down_then_up_healthy_s"] = round(time.monotonic() - started, 1)
    # The access token still verifies (same JWT key); logging in again proves the user row.
    assert history(deployment.url, reader, conversation) == before
    login = requests.post(f"{deployment.url}/auth/token", timeout=10,
                          json={"username": reader["username"], "password": "correct horse battery"})
    assert login.status_code == 200, login.text


def test_echo_bot_runs_in_its_own_container(deployment):
    base = deployment.url
    password = secrets.token_urlsafe(16)
    username = f"echo_{secrets.token_hex(4)}"
    registered = requests.post(f"{base}/auth/register", timeout=10, json={
        "username": username, "email": f"{username}@example.com", "password": password})
    assert registered.status_code == 201, registered.text
    # The README's commands: build examples/Dockerfile, run it on the stack's network.
    subprocess.run(["docker", "build", "-q", "-f", "examples/Dockerfile", "-t", "chat-echo-bot", "."], cwd=ROOT,
                   check=True, capture_output=True)
    bot = subprocess.run(["docker", "run", "-d", "--network", f"{deployment.project}_default",
                          "-e", "CHAT_URL=http://gateway:8080", "-e", f"BOT_USERNAME={username}",
                          "-e", f"BOT_PASSWORD={password}", "chat-echo-bot"],
                         capture_output=True, text=True, check=True).stdout.strip()
    try:
        person = new_user(base, "botfriend")
        asked = requests.post(f"{base}/api/friend-requests", json={"username": username},
                              headers=person["headers"], timeout=10)
        assert asked.status_code == 201, asked.text

        def conversation_id() -> int | None:
            listed = requests.get(f"{base}/api/conversations", headers=person["headers"], timeout=10).json()
            return listed["conversations"][0]["id"] if listed["conversations"] else None

        wait_until(lambda: conversation_id() is not None, 60, "the bot to accept the friend request")
        conversation = conversation_id()
        sent = requests.post(f"{base}/api/conversations/{conversation}/messages", headers=person["headers"],
                             json={"text": "hello from compose"}, timeout=10)
        assert sent.status_code == 201, sent.text
        wait_until(lambda: any(m["text"] == "echo: hello from compose"
                               for m in history(base, person, conversation)), 30, "the bot's answer")
        assert deployment.state(bot)["Config"]["User"] == "app"
    finally:
        logs = subprocess.run(["docker", "logs", bot], capture_output=True, text=True)
        subprocess.run(["docker", "rm", "-f", bot], capture_output=True)
        print(logs.stdout[-2000:], logs.stderr[-2000:])


def test_every_container_is_healthy_and_serves_as_non_root(deployment):
    for container in deployment.containers():
        state = deployment.state(container)
        service = state["Config"]["Labels"]["com.docker.compose.service"]
        assert state["State"]["Health"]["Status"] == "healthy", service
        top = subprocess.run(["docker", "top", container, "o", "pid,uid,args"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[1:]
        processes = [tuple(line.split(None, 2)[1:]) for line in top]
        if service == "gateway":
            # Like the official nginx image: the master binds and reads the config as root,
            # every worker (all request handling) runs as `nginx`.
            processes = [p for p in processes if "master process" not in p[1]]
        elif service in ("postgres", "redis"):
            # Their entrypoints start as root to prepare the data directory, then drop to
            # the server's own user; sh -c health checks come and go.
            processes = [p for p in processes if p[1].split()[0] not in ("sh", "pg_isready", "redis-cli")]
        assert processes and all(uid != "0" for uid, _ in processes), (service, top)


@pytest.mark.parametrize(("service", "variable", "message"), [
    ("auth_service", "JWT_KEYS", "JWT_KEYS"),
    ("chat_service", "JWT_KEYS", "JWT_KEYS"),
    ("web_frontend", "FRONTEND_SECRET_KEY", "SECRET_KEY"),
])
def test_a_missing_secret_stops_the_service_with_a_clear_message(deployment, service, variable, message):
    deployment.write_env(**{variable: ""})
    try:
        ran = deployment.run("run", "--rm", "--no-deps", service, check=False, timeout=120)
    finally:
        deployment.write_env()
    assert ran.returncode != 0
    assert message in ran.stdout + ran.stderr, ran.stdout + ran.stderr
