"""Stand-ins for the public base images the project's Dockerfiles name, built from Debian
packages because no registry is reachable here (test-only; real hosts pull the real images).

    debian-base:bookworm  debootstrap --variant=minbase from the mirror apt already uses
    python:3.11-slim      python/     Debian's Python 3.11, `python`/`pip` from a venv on PATH
    postgres:16-alpine    postgres/   PostgreSQL 15 + an entrypoint like the official one
    redis:7-alpine        redis/      redis-server as the redis user
    nginx:1.28-alpine     nginx/      nginx from Debian unstable (1.22 rejects `resolve`)

Each image carries a label with the hash of its recipe (and of its base), so a second run
on the same machine builds nothing: `python -m tests.deploy.images` builds what is missing.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = "bookworm"
BASE = "debian-base:bookworm"
STANDINS = {
    "python:3.11-slim": "python",
    "postgres:16-alpine": "postgres",
    "redis:7-alpine": "redis",
    "nginx:1.28-alpine": "nginx",
}
LABEL = "chat.test.recipe"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIP_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")


def log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:(.*)$", stanza, re.MULTILINE)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
        for line in text.splitlines():
            one_line = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", line)
            if one_line:
                return one_line.group(1)
    return "http://deb.debian.org/debian"


def pip_settings() -> dict[str, str]:
    """Index settings the host's pip uses (environment first, then its config files)."""
    settings = {name: os.environ[name] for name in PIP_SETTINGS if os.environ.get(name)}
    config = configparser.ConfigParser()
    config.read(["/etc/pip.conf", "/etc/xdg/pip/pip.conf", os.path.expanduser("~/.config/pip/pip.conf"),
                 os.path.expanduser("~/.pip/pip.conf")])
    for name in PIP_SETTINGS:
        option = name.removeprefix("PIP_").lower().replace("_", "-")
        if name not in settings and config.has_option("global", option):
            settings[name] = config.get("global", option)
    return settings


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


def _recipe_label(image: str) -> str | None:
    shown = subprocess.run(["docker", "image", "inspect", "--format", "{{index .Config.Labels \"%s\"}}" % LABEL,
                            image], capture_output=True, text=True)
    return shown.stdout.strip() if shown.returncode == 0 else None


# Bump when ensure_base() changes what goes into the base image.
BASE_STEPS = b"debootstrap --variant=minbase; policy-rc.d exit 101; no recommends; empty apt archives"


def base_recipe() -> str:
    return _digest(BASE_STEPS, SUITE.encode(), debian_mirror().encode())


def ensure_base() -> str:
    recipe = base_recipe()
    if _recipe_label(BASE) == recipe:
        return recipe
    mirror = debian_mirror()
    log(f"debootstrap --variant=minbase {SUITE} {mirror}")
    with tempfile.TemporaryDirectory(prefix="debian-base-") as scratch:
        root = Path(scratch) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror], check=True,
                       stdout=subprocess.DEVNULL)
        # Like Debian's official image: packages installed in a build start no services,
        # and no recommended packages come along.
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (root / "etc/apt/apt.conf.d/90no-recommends").write_text('APT::Install-Recommends "false";\n')
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", f"LABEL {LABEL}={recipe}", "--change", 'CMD ["bash"]',
                        "-", BASE], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    return recipe


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def ensure_standin(tag: str, folder_name: str, base: str) -> None:
    folder = HERE / folder_name
    mirror = debian_mirror()
    settings = pip_settings() if folder_name == "python" else {}
    extra = [HOST_CA_BUNDLE.read_bytes()] if folder_name == "python" else []
    recipe = _digest(base.encode(), mirror.encode(), repr(sorted(settings.items())).encode(), *extra,
                     *(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes()
                       for path in _files(folder)))
    if _recipe_label(tag) == recipe:
        return
    log(f"building stand-in {tag}")
    with tempfile.TemporaryDirectory(prefix="standin-") as context:
        shutil.copytree(folder, context, dirs_exist_ok=True)
        if folder_name == "python":
            shutil.copy(HOST_CA_BUNDLE, Path(context) / "ca-certificates.crt")
        arguments = [f"--build-arg=DEBIAN_MIRROR={mirror}"]
        arguments += [f"--build-arg={name}={value}" for name, value in settings.items()]
        subprocess.run(["docker", "build", "-q", "--label", f"{LABEL}={recipe}", "-t", tag, *arguments, context],
                       check=True, stdout=subprocess.DEVNULL)


def ensure_all() -> None:
    base = ensure_base()
    for tag, folder_name in STANDINS.items():
        ensure_standin(tag, folder_name, base)
