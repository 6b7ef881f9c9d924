"""The measured phases: saturation throughput, paced latency, idle capacity.

A target (EchoTarget or StackTarget) provides conversations, idle-socket
credentials, the chat worker pids and (for the real service) history.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from . import procinfo
from .loadgen import WorkerPool, split


@dataclass
class PhaseResult:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _tag() -> str:
    return "b" + secrets.token_hex(4)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += procinfo.cpu_seconds(pid)
        except OSError:
            pass
    return total


def _merge(results: list[dict[str, Any]], key: str) -> list:
    merged: list = []
    for result in results:
        merged.extend(result[key])
    return merged


def _check_history(target, results: list[dict[str, Any]], tag: str) -> dict[str, int]:
    """Compare each conversation's stored history with what was acknowledged."""
    lost = duplicated = out_of_order = checked = 0
    for result in results:
        for conv_id, acked in result["acked_by_conversation"].items():
            history = target.history(conv_id)
            if history is None:
                return {"history_checked": 0}
            ours = [m for m in history if (m.get("client_id") or "").startswith(tag + "-")]
            stored_ids = [m["id"] for m in ours]
            client_ids = [m["client_id"] for m in ours]
            duplicated += len(client_ids) - len(set(client_ids))
            acked_ids = [message_id for _, message_id in acked]
            stored = set(stored_ids)
            lost += sum(1 for message_id in acked_ids if message_id not in stored)
            seqs = [int(c.split("-")[2]) for c in client_ids]
            out_of_order += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
            checked += len(ours)
    return {
        "history_checked": checked,
        "history_lost": lost,
        "history_duplicated": duplicated,
        "history_out_of_order": out_of_order,
    }


def _loadgen_cpu(results: list[dict[str, Any]]) -> float:
    """Load generator CPU as % of one core (summed over its processes)."""
    return sum(100.0 * r["cpu_seconds"] / max(r["wall_seconds"], 1e-6) for r in results)


def _run_pool(specs: list[dict[str, Any]], duration: float, worker_pids: list[int], profiler=None) -> tuple:
    """Connect every worker, then run them together. `profiler(duration)` -> a waiter, started once connected."""
    pool = WorkerPool(specs)
    try:
        ready = pool.wait_ready()
        finish_profile = profiler(duration) if profiler else None
        cpu_before = _cpu(worker_pids)
        busy_before, total_before = procinfo.machine_busy_jiffies()
        every_before = procinfo.cpu_by_process()
        start = pool.go()
        results = pool.results(timeout=duration + 60.0)
        wall = max(time.monotonic() - start, 1e-6)
        server_cpu = 100.0 * (_cpu(worker_pids) - cpu_before) / wall
        busy_after, total_after = procinfo.machine_busy_jiffies()
        split = procinfo.cpu_split(every_before, procinfo.cpu_by_process(), wall,
                                   {"chat worker": worker_pids, "load generator": pool.pids})
        machine = {
            "machine_busy_pct": 100.0 * (busy_after - busy_before) / max(total_after - total_before, 1),
            "cpu_split_pct": split,
        }
        if finish_profile:
            finish_profile()
        return ready, results, start, server_cpu, machine
    finally:
        pool.close()


def _summarise_messages(name, target, ready, results, tag, start, duration, server_cpu, extra=None) -> PhaseResult:
    completed = [t for t in _merge(results, "completed_at") if start <= t <= start + duration]
    latencies = _merge(results, "latencies_ms")
    ack_latencies = _merge(results, "ack_latencies_ms")
    figures: dict[str, Any] = {
        "duration_s": duration,
        "sockets": sum(r["connected"] for r in ready),
        "connect_failures": sum(r["connect_failures"] for r in ready),
        "connect_errors": {k: v for r in ready for k, v in r["connect_errors"].items()},
        "transports": sorted({t for r in ready for t in r["transports"]}),
        "sent": sum(r["sent"] for r in results),
        "acked": sum(r["acked"] for r in results),
        "ack_errors": {k: v for r in results for k, v in r["ack_errors"].items()},
        "ack_timeouts": sum(r["ack_timeouts"] for r in results),
        "late_sends": sum(r["late_sends"] for r in results),
        "delivered_per_s": len(completed) / duration,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else None,
        "ack_p50_ms": percentile(ack_latencies, 50),
        "ack_p99_ms": percentile(ack_latencies, 99),
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
        "out_of_order": sum(r["out_of_order"] for r in results),
        "unexpected_messages": sum(r["unexpected_messages"] for r in results),
        "loadgen_cpu_pct": _loadgen_cpu(results),
        "loadgen_processes": len(results),
        "server_cpu_pct": server_cpu,
    }
    figures.update(_check_history(target, results, tag))
    figures.update(extra or {})
    return PhaseResult(name, figures)


def saturate(target, name: str, conversations: list[dict], duration: float, processes: int, profiler=None) -> PhaseResult:
    """Every conversation sends back-to-back (one in flight each): messages/s fully delivered."""
    tag = _tag()
    specs = [
        {"mode": "saturate", "tag": tag, "conversations": part, "duration": duration, "send_members": target.send_members}
        for part in split(conversations, processes)
    ]
    ready, results, start, server_cpu, machine = _run_pool(specs, duration, target.worker_pids, profiler)
    return _summarise_messages(name, target, ready, results, tag, start, duration, server_cpu, machine)


def paced(target, name: str, conversations: list[dict], rate: float, duration: float, processes: int, extra=None) -> PhaseResult:
    """`rate` messages/s spread evenly over the conversations: send -> peer `message` latency."""
    tag = _tag()
    ids = [c["id"] for c in conversations]
    specs = [
        {
            "mode": "rate",
            "tag": tag,
            "conversations": part,
            "duration": duration,
            "rate": rate,
            "all_conversation_ids": ids,
            "send_members": target.send_members,
        }
        for part in split(conversations, processes)
    ]
    ready, results, start, server_cpu, machine = _run_pool(specs, duration, target.worker_pids)
    return _summarise_messages(name, target, ready, results, tag, start, duration, server_cpu,
                               {**machine, **(extra or {})})


class IdleSockets:
    """Hold `count` idle WebSocket connections open (in their own processes) until closed."""

    def __init__(self, target, count: int, processes: int, connect_budget: float):
        self.target = target
        self.count = count
        self.ready: list[dict[str, Any]] = []
        auths, urls = target.idle_endpoints(count)
        self.pool = WorkerPool(
            [
                {
                    "mode": "idle",
                    "tag": _tag(),
                    "idle_count": share,
                    "idle_auths": auths,
                    "idle_urls": urls,
                    "connect_budget": connect_budget,
                }
                for share in _shares(count, processes)
            ]
        )

    def open(self) -> dict[str, Any]:
        started = time.monotonic()
        self.ready = self.pool.wait_ready(timeout=600)
        return {
            "requested": self.count,
            "connected": sum(r["connected"] for r in self.ready),
            "connect_failures": sum(r["connect_failures"] for r in self.ready),
            "connect_errors": {k: v for r in self.ready for k, v in r["connect_errors"].items()},
            "transports": sorted({t for r in self.ready for t in r["transports"]}),
            "connect_seconds": time.monotonic() - started,
        }

    def close(self) -> dict[str, Any]:
        self.pool.stop()
        try:
            results = self.pool.results(timeout=120)
        finally:
            self.pool.close()
        return {"still_connected": sum(r["still_connected"] for r in results), "holder_cpu_pct": _loadgen_cpu(results)}


def _shares(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def idle_ladder(target, steps: tuple[int, ...], processes: int, measure, settle: float = 3.0) -> dict[int, dict]:
    """Open idle sockets on one instance up to each count in `steps` (adding to those already open) and, at
    each count, note the worker's memory per idle socket and call `measure(count)` (which returns what to
    keep with it; `count` is the step, whether or not every socket connected). Every socket is closed at
    the end."""
    pid = target.single_worker_pid
    rss_before = procinfo.rss_bytes(pid)
    held: list[IdleSockets] = []
    figures: dict[int, dict] = {}
    try:
        for step in steps:
            already = sum(idle.count for idle in held)
            held.append(IdleSockets(target, step - already, processes, connect_budget=240.0))
            opened = held[-1].open()
            time.sleep(settle)
            connected = sum(r["connected"] for idle in held for r in idle.ready)
            rss = procinfo.rss_bytes(pid)
            figures[step] = {
                "requested": step,
                "connected": connected,
                "connect_failures": sum(r["connect_failures"] for idle in held for r in idle.ready),
                "connect_errors": opened["connect_errors"],
                "transports": opened["transports"],
                "connect_seconds": opened["connect_seconds"],
                "worker_rss_before_mb": rss_before / 2**20,
                "worker_rss_mb": rss / 2**20,
                "kb_per_connection": (rss - rss_before) / 1024 / max(connected, 1),
                **measure(step),
            }
    finally:
        closed = [idle.close() for idle in held]
        if figures:
            figures[max(figures)]["still_connected"] = sum(c["still_connected"] for c in closed)
    return figures
