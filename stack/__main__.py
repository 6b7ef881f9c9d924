"""`python -m stack up|down|status` -- the launcher behind `make up`, `make down`, `make status`.

`up` starts a supervisor (stack/supervisor.py) that owns every process and restarts one that
dies, and returns once the gateway routes to every chat instance; on a stack whose supervisor
runs, it brings back whatever is down. `down` stops the supervisor, which stops the rest.
`restart` restarts the chat instances one at a time (e.g. to load changed code) without a
request failing: each one is stopped only while every other one is routed to.

Settings (environment variables):
    GATEWAY_PORT (8080), AUTH_PORT (8001), FRONTEND_PORT (8002), CHAT_BASE_PORT (8101; instance i uses base + i)
    CHAT_INSTANCES (1; more than one needs REDIS_URL)
    AUTH_DATABASE_URL, CHAT_DATABASE_URL (default: SQLite files in .run/), REDIS_URL (default: none)
    RUN_DIR (default: .run in the repository)
Any other variable (ACCESS_TOKEN_TTL, LOG_LEVEL, ...) is passed to the services as it is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .settings import run_dir, stack_from_env
from .stack import (
    REPO_ROOT, RunningProcess, StackError, describe_exit, http_status, process_start_time, read_state_file,
    stop_processes, wait_routed,
)

USAGE = "usage: python -m stack up|down|status|restart"
# Generous: the supervisor bounds each step of a start itself (migrations, each health check).
UP_TIMEOUT = 300.0
DOWN_TIMEOUT = 60.0


def _processes(state: dict) -> list[RunningProcess]:
    return [RunningProcess(**record) for record in state.get("processes", [])]


def supervisor_alive(state: dict) -> bool:
    supervisor = state.get("supervisor")
    return bool(supervisor) and process_start_time(supervisor["pid"]) == supervisor["started"]


def print_status(state: dict) -> bool:
    """Print the supervisor and one line per process; True when all of it runs and is healthy."""
    supervised = supervisor_alive(state)
    supervisor = state.get("supervisor")
    if supervised:
        print(f"supervisor pid {supervisor['pid']} {supervisor['state']}")
    elif supervisor:
        print(f"supervisor pid {supervisor['pid']} is not running: nothing restarts a process that stops "
              "(`make up` starts the stack again)")
    print(f"{'PROCESS':<10} {'PID':>8} {'PORT':>6}  {'STATE':<10} {'RESTARTS':>8}  {'LAST EXIT':<18} HEALTH")
    healthy = supervised or not supervisor
    for process in _processes(state):
        alive = process.alive()
        status = http_status(process.health_url, timeout=2.0) if alive else None
        health = f"{status} {process.health_url}" if status else f"no answer {process.health_url}"
        healthy &= alive and status == 200
        run_state = "running" if alive else "restarting" if supervised else "stopped"
        print(f"{process.name:<10} {process.pid:>8} {process.port:>6}  {run_state:<10} {process.restarts:>8}  "
              f"{describe_exit(process.last_exit):<18} {health}")
    return healthy


def _ready(state: dict) -> bool:
    return all(p.alive() and http_status(p.health_url, timeout=1.0) == 200 for p in _processes(state))


def _bring_back(state: dict) -> int:
    """The supervisor runs: have it start what is down now, and wait until all of it serves."""
    down = [p.name for p in _processes(state) if not p.alive()]
    if down:
        print(f"Bringing back {', '.join(down)} ...")
        os.kill(state["supervisor"]["pid"], signal.SIGHUP)
    else:
        print("The stack is already running (`make down` stops it).")
    deadline = time.monotonic() + UP_TIMEOUT
    while True:
        state = read_state_file(run_dir())
        if not supervisor_alive(state) or time.monotonic() > deadline:
            print_status(state)
            raise StackError(f"the stack did not come back (see {run_dir() / 'logs'})")
        if _ready(state):
            break
        time.sleep(0.2)
    chat = [p.name for p in _processes(state) if p.name.startswith("chat-")]
    wait_routed(state["url"], chat, timeout=max(1.0, deadline - time.monotonic()))
    print_status(state)
    return 0


def _start_supervisor() -> None:
    log_dir = run_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "stack.log"
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as output:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "stack.supervisor"], cwd=REPO_ROOT, env={**os.environ, "RUN_DIR": str(run_dir())},
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    try:
        while True:
            state = read_state_file(run_dir())
            ours = state.get("supervisor", {}).get("pid") == supervisor.pid
            if ours and state["supervisor"]["state"] == "running":
                print_status(state)
                return
            if supervisor.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait()
        raise
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait()
    with open(log, "rb") as handle:
        handle.seek(offset)
        raise StackError("the stack did not start:\n" + handle.read().decode(errors="replace").strip())


def up() -> int:
    state = read_state_file(run_dir())
    if supervisor_alive(state):
        return _bring_back(state)
    leftovers = [p for p in _processes(state) if p.alive()]
    if leftovers:
        print(f"Stopping what is left of the last start ({', '.join(p.name for p in leftovers)}) ...")
        stop_processes(leftovers)
    stack = stack_from_env()
    print(f"Starting gateway, auth, {len(stack.chat_ports)} chat instance(s) and frontend "
          f"(logs in {stack.log_dir}, the supervisor's in {stack.log_dir / 'stack.log'}) ...")
    _start_supervisor()
    print(f"\nThe chat is running at {stack.url}/  (`make status`, `make down`)")
    return 0


def down() -> int:
    state = read_state_file(run_dir())
    if not state:
        print("Nothing is running.")
        return 0
    if supervisor_alive(state):
        pid = state["supervisor"]["pid"]
        print(f"supervisor pid {pid:<8} stopping (it stops {', '.join(p.name for p in _processes(state))})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT
        while supervisor_alive(state) and time.monotonic() < deadline:
            time.sleep(0.05)
        if supervisor_alive(state):
            print(f"supervisor pid {pid} did not stop within {DOWN_TIMEOUT:.0f} s; killing it")
            os.kill(pid, signal.SIGKILL)
    # Whatever the supervisor did not stop (or a stack without a supervisor left).
    leftovers = [p for p in _processes(state) if p.alive()]
    for process in leftovers:
        print(f"{process.name:<10} pid {process.pid:<8} stopping")
    stop_processes(leftovers)
    (run_dir() / "stack.json").unlink(missing_ok=True)
    print("Stopped.")
    return 0


def _wait_restarted(name: str, old_pid: int, deadline: float) -> dict:
    """The new state once the supervisor runs `name` again under a new pid and it answers."""
    while True:
        state = read_state_file(run_dir())
        process = next(p for p in _processes(state) if p.name == name)
        if process.pid != old_pid and process.alive() and http_status(process.health_url, timeout=1.0) == 200:
            return state
        if not supervisor_alive(state) or time.monotonic() > deadline:
            raise StackError(f"{name} did not come back (see {process.log})")
        time.sleep(0.1)


def restart() -> int:
    state = read_state_file(run_dir())
    if not supervisor_alive(state):
        raise StackError("the stack is not running under its supervisor (`make up` starts it)")
    chat = [p.name for p in _processes(state) if p.name.startswith("chat-")]
    deadline = time.monotonic() + UP_TIMEOUT
    for name in chat:
        others = [other for other in chat if other != name]
        # Take an instance out only while the gateway routes to the others (with one instance,
        # requests fail until it is back: there is nothing to route them to).
        wait_routed(state["url"], others, timeout=max(1.0, deadline - time.monotonic()))
        process = next(p for p in _processes(state) if p.name == name)
        print(f"{name:<10} pid {process.pid:<8} restarting")
        # A graceful stop: gunicorn finishes what it has started and stops accepting, and the
        # gateway sends what this instance refuses to another one. The supervisor starts it again.
        os.kill(process.pid, signal.SIGTERM)
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        # Started again now, not after the back-off meant for a crash.
        os.kill(state["supervisor"]["pid"], signal.SIGHUP)
        state = _wait_restarted(name, process.pid, deadline)
        wait_routed(state["url"], [name], timeout=max(1.0, deadline - time.monotonic()))
    print_status(state)
    return 0


def status() -> int:
    state = read_state_file(run_dir())
    if not state:
        print("Nothing is running (`make up` starts the stack).")
        return 0
    return 0 if print_status(state) else 1


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status, "restart": restart}
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
