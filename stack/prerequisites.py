"""The Debian packages `make up` and `make test` need before anything else runs:
nginx (the gateway) and python3-venv (the virtualenv). Standard library only, so it runs
on a bare machine before any virtualenv exists:

    python3 -m stack.prerequisites

Installs what is missing with apt-get when it can (as root, or through password-less
sudo); otherwise prints the one command to run and exits 1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

from .stack import find_nginx


def missing_packages() -> list[str]:
    missing = []
    if find_nginx() is None:
        missing.append("nginx")
    # Debian splits `python3 -m venv` out of python3; without it venv fails half-way.
    if importlib.util.find_spec("ensurepip") is None:
        missing.append("python3-venv")
    return missing


def install_prefix() -> list[str] | None:
    """How to run apt-get as root from here, or None when that needs a password."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    return None


def main() -> int:
    missing = missing_packages()
    if not missing:
        return 0
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    prefix = install_prefix()
    if prefix is None:
        print(f"Missing Debian packages: {' '.join(missing)}. Install them, then run make again:\n"
              f"    sudo apt-get update && sudo {' '.join(install)}", file=sys.stderr)
        return 1
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], install):
        if subprocess.run([*prefix, *command], env=environment).returncode != 0:
            print(f"`{' '.join(command)}` failed", file=sys.stderr)
            return 1
    still = missing_packages()
    if still:
        print(f"still missing after apt-get: {' '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
