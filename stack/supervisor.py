"""The supervisor behind `make up`: owns the stack's processes and restarts one that dies.

`python -m stack up` starts it detached (its own session, output in RUN_DIR/logs/stack.log);
it starts the stack (`Stack.start`: migrations, services, then the gateway once they answer),
then watches every process:

- a process that exits is restarted after a back-off (0.5 s, doubling to 10 s; back to 0.5 s
  once it had stayed up 30 s), with a log line "restarting <name> (<how it ended>, restart #k)";
  what is left of its process group (gunicorn workers, nginx workers still holding the port)
  is killed first;
- SIGHUP restarts every process that is waiting out its back-off now (`make up` on a
  half-dead stack);
- SIGTERM or SIGINT stops the stack (`make down`) and then the supervisor.

Its children get SIGTERM if it dies itself (PR_SET_PDEATHSIG), so a killed supervisor leaves
nothing running unsupervised; `make status` says so and `make up` starts everything again.

The standard library only, like `status` and `down`. A general-purpose supervisor (supervisord,
circus) would need a package outside the standard library and its own configuration and control
socket, and would still not know that the gateway starts only once the services answer and that
`up` is done only when the gateway routes to every chat instance: that ordering is most of this.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass

from .settings import stack_from_env
from .stack import ProcessSpec, Stack, StackError, describe_exit, kill_group, process_start_time

log = logging.getLogger("stack.supervisor")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
# A process that stayed up this long has recovered: its next crash is restarted after BACKOFF_FIRST.
STABLE_AFTER = 30.0
POLL_INTERVAL = 0.2


class Stopping(Exception):
    """SIGTERM/SIGINT arrived while the stack was starting."""


@dataclass
class Backoff:
    delay: float = BACKOFF_FIRST
    due: float | None = None  # while the process is down: when it starts again (time.monotonic())
    up_since: float = 0.0


class Supervisor:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.specs: dict[str, ProcessSpec] = {}
        self.backoff: dict[str, Backoff] = {}
        self.started = False
        self.stopping = False
        self.revive = False
        stack.supervisor = {"pid": os.getpid(), "started": process_start_time(os.getpid()), "state": "starting"}

    # -- signals -----------------------------------------------------------------------------------

    def _on_stop(self, signum, frame) -> None:
        self.stopping = True
        if not self.started:
            # Stack.start stops what it started when interrupted.
            raise Stopping()

    def _on_revive(self, signum, frame) -> None:
        self.revive = True

    # -- main loop ---------------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_revive)
        self.specs = {spec.name: spec for spec in self.stack.processes()}
        log.info("starting %s (run directory %s)", ", ".join(self.specs), self.stack.run_dir)
        # Recorded before anything starts, so `down` finds the supervisor even mid-start.
        self.stack.run_dir.mkdir(parents=True, exist_ok=True)
        self.stack.write_state()
        try:
            self.stack.start()
        except Stopping:
            log.info("stopped during start-up")
            return 0
        finally:
            if not self.started and self.stack.state_file.exists() and not self.stack.running:
                # Nothing runs (a failed or interrupted start): leave no record of a stack.
                self.stack.state_file.unlink()
        self.started = True
        now = time.monotonic()
        self.backoff = {name: Backoff(up_since=now) for name in self.stack.running}
        self._set_state("running")
        log.info("running at %s", self.stack.url)
        while not self.stopping:
            if self._watch():
                self.stack.write_state()
            time.sleep(POLL_INTERVAL)
        self._set_state("stopping")
        log.info("stopping")
        self.stack.stop()
        log.info("stopped")
        return 0

    def _set_state(self, state: str) -> None:
        self.stack.supervisor["state"] = state
        self.stack.write_state()

    def _watch(self) -> bool:
        """Notice exits and start what is due; True when stack.json needs writing."""
        changed = False
        revive, self.revive = self.revive, False
        for name, process in list(self.stack.running.items()):
            backoff = self.backoff[name]
            now = time.monotonic()
            if backoff.due is None and process.popen is not None and process.popen.poll() is not None:
                process.last_exit = process.popen.returncode
                kill_group(process.pid)
                if now - backoff.up_since >= STABLE_AFTER:
                    backoff.delay = BACKOFF_FIRST
                backoff.due = now + backoff.delay
                log.warning("%s (pid %d) ended (%s)%s", name, process.pid, describe_exit(process.last_exit),
                            "" if revive else f"; restarting in {backoff.delay:.1f} s")
                changed = True
            if backoff.due is not None and (revive or now >= backoff.due):
                self._restart(name, process, backoff)
                changed = True
        return changed

    def _restart(self, name: str, old, backoff: Backoff) -> None:
        restarts = old.restarts + 1
        log.warning("restarting %s (%s, restart #%d)", name, describe_exit(old.last_exit), restarts)
        try:
            new = self.stack.spawn(self.specs[name])
        except OSError as error:
            log.error("could not start %s: %s", name, error)
            backoff.due = time.monotonic() + backoff.delay
            return
        new.restarts = restarts
        new.last_exit = old.last_exit
        backoff.delay = min(backoff.delay * 2, BACKOFF_MAX)
        backoff.due = None
        backoff.up_since = time.monotonic()


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s supervisor[%(process)d] %(levelname)s %(message)s")
    try:
        # Children get SIGTERM when the supervisor dies: nothing runs on without supervision.
        return Supervisor(stack_from_env(die_with_parent=True)).run()
    except StackError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
