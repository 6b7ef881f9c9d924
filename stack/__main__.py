"""`python -m stack up|down|status` -- the launcher behind `make up`, `make down`, `make status`.

Settings (environment variables):
    GATEWAY_PORT (8080), AUTH_PORT (8001), FRONTEND_PORT (8002), CHAT_BASE_PORT (8101; instance i uses base + i)
    CHAT_INSTANCES (1; more than one needs REDIS_URL)
    AUTH_DATABASE_URL, CHAT_DATABASE_URL (default: SQLite files in .run/), REDIS_URL (default: none)
    RUN_DIR (default: .run in the repository)
Any other variable (ACCESS_TOKEN_TTL, LOG_LEVEL, ...) is passed to the services as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .stack import DEFAULT_PORTS, REPO_ROOT, RunningProcess, Stack, StackError, http_status, stop_process

USAGE = "usage: python -m stack up|down|status"


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, not {raw!r}") from None


def run_dir() -> Path:
    return Path(os.environ.get("RUN_DIR") or REPO_ROOT / ".run")


def stack_from_env() -> Stack:
    instances = _int_setting("CHAT_INSTANCES", 1)
    chat_base = _int_setting("CHAT_BASE_PORT", DEFAULT_PORTS["chat_base"])
    return Stack(
        run_dir(),
        gateway_port=_int_setting("GATEWAY_PORT", DEFAULT_PORTS["gateway"]),
        auth_port=_int_setting("AUTH_PORT", DEFAULT_PORTS["auth"]),
        frontend_port=_int_setting("FRONTEND_PORT", DEFAULT_PORTS["frontend"]),
        chat_ports=[chat_base + i for i in range(instances)] if instances > 0 else [],
        chat_instances=instances,
        auth_database_url=os.environ.get("AUTH_DATABASE_URL") or None,
        chat_database_url=os.environ.get("CHAT_DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
    )


def print_status(processes: list[RunningProcess]) -> bool:
    """Print one line per process; True when every process runs and is healthy."""
    print(f"{'PROCESS':<10} {'PID':>8} {'PORT':>6}  {'STATE':<8} HEALTH")
    healthy = True
    for process in processes:
        alive = process.alive()
        status = http_status(process.health_url, timeout=2.0) if alive else None
        health = f"{status} {process.health_url}" if status else f"no answer {process.health_url}"
        healthy &= alive and status == 200
        print(f"{process.name:<10} {process.pid:>8} {process.port:>6}  {'running' if alive else 'stopped':<8} {health}")
    return healthy


def up() -> int:
    running = [p for p in Stack.read_state(run_dir()) if p.alive()]
    if running:
        print("The stack is already running (`make down` stops it):")
        print_status(running)
        return 0
    stack = stack_from_env()
    print(f"Starting gateway, auth, {len(stack.chat_ports)} chat instance(s) and frontend (logs in {stack.log_dir}) ...")
    stack.start()
    print_status(list(stack.running.values()))
    print(f"\nThe chat is running at {stack.url}/  (`make status`, `make down`)")
    return 0


def down() -> int:
    processes = Stack.read_state(run_dir())
    if not processes:
        print("Nothing is running.")
        return 0
    for process in reversed(processes):
        state = "stopping" if process.alive() else "already stopped"
        print(f"{process.name:<10} pid {process.pid:<8} {state}")
        stop_process(process)
    (run_dir() / "stack.json").unlink(missing_ok=True)
    print("Stopped.")
    return 0


def status() -> int:
    processes = Stack.read_state(run_dir())
    if not processes:
        print("Nothing is running (`make up` starts the stack).")
        return 0
    return 0 if print_status(processes) else 1


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status}
    if len(argv) != 1 or argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]]()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
