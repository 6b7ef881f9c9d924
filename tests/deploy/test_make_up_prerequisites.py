"""`make up` on a machine without nginx (`python3 -m stack.prerequisites`, its first step),
run in a container of the Python base image, which has no nginx. apt-get is replaced by a
recording double on PATH that "installs" by putting an executable of that name in place;
everything else (the lookup, root and sudo detection, the messages) is the real code.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shared.testing import unavailable
from tests.deploy import images

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
FAKE_APT = """#!/bin/sh
echo "$*" >> /fake/apt-get.calls
if [ "$1" = install ]; then
    for arg in "$@"; do
        if [ "$arg" = nginx ]; then printf '#!/bin/sh\\n' > /fake/bin/nginx; chmod 755 /fake/bin/nginx; fi
    done
fi
"""


@pytest.fixture(scope="module")
def python_image():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode:
        unavailable("no Docker engine (bash .ci/run installs and starts one)")
    images.ensure_all()
    return "python:3.11-slim"


def run_prerequisites(python_image: str, fake: Path, user: str) -> subprocess.CompletedProcess:
    (fake / "bin").mkdir(exist_ok=True)
    apt = fake / "bin" / "apt-get"
    apt.write_text(FAKE_APT)
    apt.chmod(0o755)
    fake.chmod(0o777)
    (fake / "bin").chmod(0o777)
    return subprocess.run(
        ["docker", "run", "--rm", "--user", user, "-v", f"{ROOT}:/src:ro", "-v", f"{fake}:/fake", "-w", "/src",
         "-e", "PATH=/fake/bin:/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         python_image, "python", "-m", "stack.prerequisites"],
        capture_output=True, text=True, timeout=120)


def test_as_root_it_installs_nginx_with_apt_get(python_image, tmp_path):
    ran = run_prerequisites(python_image, tmp_path, "0")
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "apt-get.calls").read_text().splitlines() == [
        "update -q", "install -y --no-install-recommends nginx"]
    assert "installing nginx with apt-get" in ran.stderr


def test_without_root_or_sudo_it_prints_the_one_command_and_stops(python_image, tmp_path):
    ran = run_prerequisites(python_image, tmp_path, "65534")
    assert ran.returncode == 1
    assert "sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx" in ran.stderr
    assert not (tmp_path / "apt-get.calls").exists()
