"""The deployment files are consistent: compose validates, referenced files exist, configs are current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gateway.render import COMPOSE_CONF, render_compose, render_local
from shared.testing import require_executable, unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose_config() -> dict:
    """The fully resolved compose file, as docker-compose itself reads it."""
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        unavailable("docker-compose (Debian package docker-compose) is not installed")
    result = subprocess.run([docker_compose, "-f", str(COMPOSE_FILE), "config"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_validates():
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        unavailable("docker-compose (Debian package docker-compose) is not installed")
    result = subprocess.run([docker_compose, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_builds_and_mounts_files_that_exist():
    services = compose_config()["services"]
    assert {"postgres", "redis", "auth_service", "chat_service", "web_frontend", "gateway"} <= set(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = Path(build["context"])
            assert context.resolve() == ROOT, f"{name}: build context must be the repository root"
            assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']} is missing"
        for volume in service.get("volumes", []):
            # docker-compose v1 prints the short syntax, with host paths made absolute.
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("/"):
                assert Path(source).exists(), f"{name}: {source} is missing"


def test_only_the_gateway_publishes_a_port_and_chat_can_scale():
    services = compose_config()["services"]
    assert [name for name, service in services.items() if service.get("ports")] == ["gateway"]
    assert "container_name" not in services["chat_service"]
    for name in ("auth_service", "chat_service", "web_frontend", "gateway"):
        conditions = {dep["condition"] for dep in services[name]["depends_on"].values()}
        assert conditions == {"service_healthy"}, name
    for name in ("auth_service", "chat_service", "web_frontend"):
        assert services[name]["environment"]["APP_ENV"] == "production", name


def test_files_named_in_the_readme_and_compose_exist():
    readme = (ROOT / "README.md").read_text()
    compose = COMPOSE_FILE.read_text()
    referenced = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]+|\.env\.example|docker-compose\.yml|Makefile)`", readme))
    referenced |= set(re.findall(r"(?:dockerfile:|\./)\s*([\w./-]+)", compose))
    # .run/ (the launcher's) and test-artifacts/ (the tests') hold generated files, not in a fresh clone.
    generated = ("http", "/", ".run/", "test-artifacts/")
    referenced = {path.rstrip("/").split(":")[0] for path in referenced if not path.startswith(generated)}
    assert referenced, "expected file references in README.md and docker-compose.yml"
    missing = sorted(path for path in referenced if not (ROOT / path).exists())
    assert not missing, f"referenced but missing: {missing}"


def test_committed_compose_gateway_config_is_current():
    assert COMPOSE_CONF.read_text() == render_compose(), (
        "gateway/nginx.compose.conf is stale: run `python -m gateway.render compose -o gateway/nginx.compose.conf`")


def test_gateway_image_uses_the_rendered_config_and_a_resolving_nginx():
    dockerfile = (ROOT / "gateway" / "Dockerfile").read_text()
    assert "COPY gateway/nginx.compose.conf /etc/nginx/nginx.conf" in dockerfile
    version = re.search(r"FROM nginx:(\d+)\.(\d+)", dockerfile)
    assert version and (int(version.group(1)), int(version.group(2))) >= (1, 28), "resolve needs nginx >= 1.27.3"
    assert "HEALTHCHECK" in dockerfile


@pytest.mark.parametrize("chat_ports", [[8101], [8101, 8102, 8103]])
def test_nginx_accepts_the_local_config(tmp_path, chat_ports):
    nginx = require_executable("nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_local(prefix=tmp_path, port=8080, auth_port=8001, frontend_port=8002,
                                 chat_ports=chat_ports, user="root" if _is_root() else None))
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert conf.read_text().count("server 127.0.0.1:81") == len(chat_ports)


def _is_root() -> bool:
    return os.geteuid() == 0
