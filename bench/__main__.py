"""`python -m bench [--quick] [--url URL [--chat-pid PID]]` -- the benchmark behind `make bench`.

Starts what it measures on free loopback ports (the echo ceiling; the product
via stack.Stack with temporary PostgreSQL databases and Redis), drives it
through the gateway with real Socket.IO clients in separate processes, and
prints one table. Raw figures and the chat worker's profile go to
bench/results/<timestamp>/. `python -m bench --fanout [--quick]` measures only the
Socket.IO fan-out between instances (bench/fanout.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Iterator

from shared.testing import require_redis, temporary_postgres_database

from . import auth_bench, fanout, procinfo, profile, scenarios, search_bench
from .echo_target import EchoTarget
from .loadgen import raise_open_file_limit
from .report import build_table, growth_table, plot_growth
from .stack_target import StackTarget

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REDIS_DB = 13  # a database of its own; pub/sub channels are per run (see redis_channel)


@dataclass(frozen=True)
class Plan:
    name: str
    duration: float  # seconds of each saturation / paced phase
    saturate_conversations: int
    paced_rate: float
    light_rate: float  # a rate every target sustains: the message path's own latency, without queueing
    paced_conversations: int
    # Growth with members per conversation: `member_conversations` conversations of each size at
    # `member_rate` msg/s in all, a rate one instance sustains even for 100-member groups.
    member_sizes: tuple[int, ...]
    member_conversations: int
    member_rate: float
    # Growth with connections: idle WebSockets opened on one instance up to each count, the paced
    # phase run at each, `idle_repeats` times at the last (the tail-latency goal: every run).
    idle_steps: tuple[int, ...]
    idle_repeats: int
    idle_users: int
    # A separate saturation run under py-spy (full), or py-spy during the measured one (quick, to save time).
    profile_separately: bool
    auth_seconds: float
    load_processes: int
    idle_processes: int
    # Saturation rounds with the echo and the product in turn, a few seconds apart: the throughput
    # and CPU-per-message goals are judged on the median of these rounds' ratios.
    alternations: int


QUICK = Plan("quick", 4, 50, 200, 20, 50, (2, 10, 100), 4, 40, (100, 1000), 3, 20, False, 4, 2, 2, 1)
FULL = Plan("full", 10, 50, 200, 20, 50, (2, 10, 100), 4, 40, (100, 1000, 10000), 3, 50, True, 10, 2, 4, 3)

# Cheap password hashing for creating the load's users; logins are measured
# separately (auth_bench) with auth's real default cost.
# The load's users all register from one address, hence no registration limit.
SETUP_ENV = {"PASSWORD_SCRYPT_N": "2", "PASSWORD_SCRYPT_R": "1", "PASSWORD_SCRYPT_P": "1", "ACCESS_TOKEN_TTL": "3600",
             "REGISTRATION_LIMIT_IP": "1000000"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def redis_url() -> str:
    base = require_redis().rsplit("/", 1)[0]
    return f"{base}/{REDIS_DB}"


def message_phases(target, plan: Plan, results: dict, key: str, out_dir: Path, profile_pid: int | None = None) -> None:
    """Throughput, paced latency, growth with members and with idle connections, on one target."""
    profiler = None
    if profile_pid is not None:
        profiler = partial(start_profiler, profile_pid, out_dir, f"profile-{key}", results, f"{key}.profile")
    if profiler and plan.profile_separately:
        log(f"{key}: profiling the chat worker (pid {profile_pid}) under saturation")
        scenarios.saturate(target, "profiled", target.conversations(plan.saturate_conversations),
                           plan.duration, plan.load_processes, profiler)
        profiler = None
    log(f"{key}: saturation, {plan.saturate_conversations} conversations, {plan.duration:.0f} s"
        + (" (py-spy samples the worker meanwhile)" if profiler else ""))
    results[f"{key}.saturate"] = scenarios.saturate(
        target, "saturate", target.conversations(plan.saturate_conversations), plan.duration, plan.load_processes,
        profiler,
    ).figures
    log(f"{key}: {results[f'{key}.saturate']['delivered_per_s']:.0f} msg/s")

    def paced(name: str, rate: float, conversations: list[dict], **extra) -> dict:
        figures = scenarios.paced(target, name, conversations, rate, plan.duration, plan.load_processes,
                                  extra=extra).figures
        if target.worker_pids:
            figures["worker_rss_mb"] = procinfo.rss_bytes(target.worker_pids[0]) / 2**20
        log(f"{key}: {name}: p99 {figures['p99_ms'] or 0:.1f} ms at {figures['delivered_per_s']:.0f} msg/s")
        return figures

    log(f"{key}: light load, {plan.light_rate:.0f} msg/s over {plan.paced_conversations} conversations")
    results[f"{key}.light"] = paced("light", plan.light_rate, target.conversations(plan.paced_conversations))
    log(f"{key}: paced {plan.paced_rate:.0f} msg/s over {plan.paced_conversations} conversations")
    results[f"{key}.paced"] = paced("paced", plan.paced_rate, target.conversations(plan.paced_conversations))
    for size in plan.member_sizes:
        log(f"{key}: {plan.member_rate:.0f} msg/s over {plan.member_conversations} conversations of {size} members")
        results[f"{key}.members{size}"] = paced(f"members{size}", plan.member_rate,
                                                target.groups(size, plan.member_conversations), members=size)

    def with_idle(count: int) -> dict:
        runs = plan.idle_repeats if count == plan.idle_steps[-1] else 1
        log(f"{key}: idle WebSockets opened up to {count:,}; paced {plan.paced_rate:.0f} msg/s x {runs}")
        return {"paced": [paced(f"paced+{count}idle", plan.paced_rate, target.conversations(plan.paced_conversations),
                                idle_sockets=count) for _ in range(runs)]}

    if not target.worker_pids:
        results[f"{key}.idle"] = {"error": "the chat worker's pid is unknown (pass --chat-pid with --url)"}
        return
    log(f"{key}: opening idle WebSockets on one instance (worker pid {target.single_worker_pid}) "
        f"up to {', '.join(f'{n:,}' for n in plan.idle_steps)}")
    for count, figures in scenarios.idle_ladder(target, plan.idle_steps, plan.idle_processes, with_idle).items():
        results[f"{key}.idle{count}"] = figures
        log(f"{key}: {figures['connected']:,} connected, {figures['kb_per_connection']:.1f} KB each")


@contextlib.contextmanager
def chat_target(args: argparse.Namespace, plan: Plan, results: dict, redis: str, channel: str) -> Iterator:
    """The product to measure, with its users set up: the stack at `--url`, or one started here."""
    users = 2 * plan.saturate_conversations + plan.idle_users
    if args.url:
        target = StackTarget(args.url, [args.chat_pid] if args.chat_pid else [])
        log(f"setting up {users} users through {args.url}")
        results["chat1.setup_seconds"] = target.populate(plan.saturate_conversations, plan.idle_users)
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as run_dir:
        log("starting the stack with one chat instance (PostgreSQL + Redis)")
        with started_stack(1, redis, f"{channel}-chat1", Path(run_dir) / "chat1") as target:
            log(f"setting up {users} users, friendships and conversations through the API")
            results["chat1.setup_seconds"] = target.populate(plan.saturate_conversations, plan.idle_users)
            yield target


def alternating_saturation(echo, chat, plan: Plan, results: dict) -> None:
    """The echo and the product saturated in turn, `plan.alternations` times.

    This machine's speed drifts by a third and more over minutes (2 shared cores; the echo's own
    saturation has measured 1,000 to 1,400 msg/s within one hour), and the message phases of the
    two targets run minutes apart, so a ratio of those two phases measures the drift as much as
    the product. Here each round's two phases are seconds apart, and the goals take the median
    of the rounds' ratios.
    """
    rounds: dict[str, list[dict]] = {"echo1": [], "chat1": []}
    for number in range(1, plan.alternations + 1):
        for key, target in (("echo1", echo), ("chat1", chat)):
            figures = scenarios.saturate(target, f"alternating-{number}", target.conversations(plan.saturate_conversations),
                                         plan.duration, plan.load_processes).figures
            rounds[key].append(figures)
        log(f"alternating round {number} of {plan.alternations}: echo {rounds['echo1'][-1]['delivered_per_s']:.0f} msg/s, "
            f"chat {rounds['chat1'][-1]['delivered_per_s']:.0f} msg/s")
    for key, phases in rounds.items():
        results[f"{key}.alternating"] = {"rounds": phases}


def start_profiler(pid: int, out_dir: Path, name: str, results: dict, key: str, duration: float):
    """Start py-spy on `pid` for `duration` s; the returned function waits and stores the summary."""
    recorder = profile.Profiler(pid, max(1, int(duration)), out_dir, name)

    def finish() -> None:
        recorder.wait(timeout=duration + 30)
        results[key] = (
            {"error": recorder.error} if recorder.error
            else {**profile.summarise(recorder.raw_path), "raw": str(recorder.raw_path)}
        )

    return finish


@contextlib.contextmanager
def started_stack(instances: int, redis: str, channel: str, run_dir: Path,
                  env: dict[str, str] | None = None) -> Iterator[StackTarget]:
    from stack.stack import Stack

    with temporary_postgres_database("bench_auth") as auth_db, temporary_postgres_database("bench_chat") as chat_db:
        stack = Stack(
            run_dir,
            gateway_port=procinfo.listen_port(), auth_port=procinfo.listen_port(),
            frontend_port=procinfo.listen_port(), chat_ports=[procinfo.listen_port() for _ in range(instances)],
            chat_instances=instances,
            auth_database_url=auth_db, chat_database_url=chat_db, redis_url=redis,
            env={**SETUP_ENV, "REDIS_PREFIX": channel, **(env or {})},
            die_with_parent=True,
        )
        with stack:
            masters = [stack.running[f"chat-{i}"].pid for i in range(instances)]
            yield StackTarget(stack.url, masters, stack.chat_urls)


def started_in(parent: Path, instances: int, redis: str, channel: str, name: str,
               env: dict[str, str] | None = None):
    return started_stack(instances, redis, channel, parent / name, env)


def run(args: argparse.Namespace) -> dict:
    plan = QUICK if args.quick else FULL
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.out or RESULTS_DIR / stamp)
    out_dir.mkdir(parents=True, exist_ok=True)
    fd_limit = raise_open_file_limit()
    redis = redis_url()
    channel = f"bench-{secrets.token_hex(4)}"
    if args.fanout:
        with tempfile.TemporaryDirectory(prefix="bench-fanout-") as run_dir:
            return fanout.run(args.quick, out_dir, partial(started_in, Path(run_dir)), redis, channel, log)
    results: dict = {
        "plan": asdict(plan),
        "machine": procinfo.machine(),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "fd_limit": fd_limit,
        "started": stamp,
    }
    started = time.monotonic()
    log(f"{plan.name} run; results in {out_dir}")

    echo = EchoTarget(1, redis, f"{channel}-echo1", out_dir).start()
    try:
        with chat_target(args, plan, results, redis, channel) as target:
            # First, while both are fresh: the goals' rounds (see alternating_saturation).
            alternating_saturation(echo, target, plan, results)
            message_phases(echo, plan, results, "echo1", out_dir)
            profile_pid = target.worker_pids[0] if target.worker_pids else None
            message_phases(target, plan, results, "chat1", out_dir, profile_pid=profile_pid)
    finally:
        echo.stop()
    if args.url:
        results["auth"] = auth_bench.run_against(args.url, plan.auth_seconds, 4)
    else:
        log("auth: logins through the gateway with the default scrypt cost (own small stack)")
        results["auth"] = auth_bench.run_with_own_stack(plan.auth_seconds, 4)

    log("search: 1,000,000 messages bulk-loaded into a throwaway PostgreSQL database" if not args.quick
        else "search: 100,000 messages bulk-loaded into a throwaway PostgreSQL database")
    results["search"] = search_bench.run(quick=args.quick)
    kdf = auth_bench.default_kdf()
    results["auth"].update(kdf=kdf, kdf_ms=auth_bench.kdf_ms_per_hash(**kdf), **auth_bench.token_verification())
    results["elapsed_s"] = time.monotonic() - started
    results["load_average_end"] = procinfo.machine()["load_average"]
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = build_table(results) + "\n\n" + growth_table(results)
    (out_dir / "table.md").write_text(table + "\n")
    plot_growth(results, out_dir / "growth.png")
    print(table)
    log(f"done in {results['elapsed_s']:.0f} s; raw figures: {out_dir / 'results.json'}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 s phases, up to 1,000 idle sockets (about 4 minutes)")
    parser.add_argument("--url", help="measure a running stack's gateway instead of starting one")
    parser.add_argument("--chat-pid", type=int, help="with --url: the chat gunicorn master pid (memory, profile)")
    parser.add_argument("--fanout", action="store_true",
                        help="only the Socket.IO fan-out scaling (1-8 instances, both managers; --quick: ~5 min)")
    parser.add_argument("--out", help="results folder (default bench/results/<timestamp>)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
