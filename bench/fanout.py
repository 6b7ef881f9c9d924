"""`python -m bench --fanout [--quick]`: what one chat instance spends on the Socket.IO queue
as the cluster grows, for each manager (SOCKETIO_MANAGER=redis|sharded).

With 1, 2, 4 and 8 instances, every instance hosts the same few conversations (both
members connected straight to it) whose senders send at a fixed rate per instance, so
the load per instance stays constant and only the cluster grows. Per instance and run:
events received from the queue, events delivered to local connections, the CPU spent
on queue events with nobody here (the managers' own counters on /healthz) and the
worker's CPU per delivered message (/proc). Writes fanout.json, fanout.md and
fanout.png to the results folder.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
import socketio

from . import procinfo
from .stack_target import StackTarget

MANAGERS = ("redis", "sharded")


@dataclass(frozen=True)
class FanoutPlan:
    name: str
    instances: tuple[int, ...]
    pairs_per_instance: int
    rate_per_instance: float  # messages per second sent on each instance
    duration: float  # seconds of sending per run


QUICK = FanoutPlan("quick", (1, 2, 4, 8), 2, 10.0, 5.0)
FULL = FanoutPlan("full", (1, 2, 4, 8), 4, 25.0, 20.0)


class Pair:
    """Two friends, both connected to one instance; the first sends at a steady pace."""

    def __init__(self, url: str, sender, peer, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.sent = 0
        self.received = 0
        self.failed: Counter[str] = Counter()  # failed sends by error code ("timeout": no ack)
        self.sender = self._connect(url, sender.access_token)
        self.peer = self._connect(url, peer.access_token)
        self.peer.on("message", self._on_message)

    @staticmethod
    def _connect(url: str, token: str) -> socketio.Client:
        client = socketio.Client(reconnection=False)
        client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
        return client

    def _on_message(self, message: dict) -> None:
        if message.get("conversation_id") == self.conversation_id:
            self.received += 1

    def send_until(self, go: float, end: float, interval: float) -> None:
        next_at = go
        while True:
            now = time.monotonic()
            if now >= end:
                return
            if now < next_at:
                time.sleep(next_at - now)
                continue
            next_at += interval
            try:
                ack = self.sender.call("send", {"conversation_id": self.conversation_id, "text": f"m{self.sent}"},
                                       timeout=10)
                if ack and ack.get("ok"):
                    self.sent += 1
                else:
                    self.failed[((ack or {}).get("error") or {}).get("code", "no ack")] += 1
            except socketio.exceptions.TimeoutError:
                self.failed["timeout"] += 1

    def close(self) -> None:
        for client in (self.sender, self.peer):
            client.disconnect()


def counters(url: str) -> dict:
    return requests.get(f"{url}/healthz", timeout=10).json()["queue"]


def measure(target: StackTarget, chat_urls: list[str], plan: FanoutPlan) -> dict:
    """One run: every instance's pairs send for `plan.duration`; per-instance figures."""
    per_instance = plan.pairs_per_instance
    target.populate(per_instance * len(chat_urls), 0)
    pairs = [Pair(chat_urls[index // per_instance], sender, peer, conversation_id)
             for index, (sender, peer, conversation_id) in enumerate(target.pairs)]
    workers = [procinfo.children(pid)[0] for pid in target.chat_master_pids]
    try:
        before = [counters(url) for url in chat_urls]
        cpu_before = [procinfo.cpu_seconds(pid) for pid in workers]
        interval = per_instance / plan.rate_per_instance
        go = time.monotonic() + 0.5
        threads = [threading.Thread(target=pair.send_until, args=(go + i * interval / len(pairs), go + plan.duration,
                                                                  interval)) for i, pair in enumerate(pairs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(p.received < p.sent for p in pairs):
            time.sleep(0.1)
        after = [counters(url) for url in chat_urls]
        cpu_after = [procinfo.cpu_seconds(pid) for pid in workers]
    finally:
        for pair in pairs:
            pair.close()
    instances = []
    for b, a, c0, c1 in zip(before, after, cpu_before, cpu_after):
        delivered = a["delivered"] - b["delivered"]
        cpu = c1 - c0
        instances.append({
            "received": a["received"] - b["received"],
            "delivered": delivered,
            "undeliverable": a["undeliverable"] - b["undeliverable"],
            "undeliverable_cpu_ms": 1000 * (a["undeliverable_cpu_seconds"] - b["undeliverable_cpu_seconds"]),
            "cpu_s": cpu,
            "cpu_ms_per_delivered": 1000 * cpu / delivered if delivered else None,
        })
    return {
        "sent": sum(p.sent for p in pairs), "failed": dict(sum((p.failed for p in pairs), Counter())),
        "received_by_peers": sum(p.received for p in pairs), "instances": instances,
        "mean": {key: mean([i[key] for i in instances]) for key in instances[0]},
    }


def mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def table(results: dict) -> str:
    lines = [
        "| manager | instances | sent | failed sends | lost | received / instance | delivered / instance "
        "| for nobody / instance | CPU for nobody / instance (ms) | CPU per delivered message (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, run in results["runs"].items():
        manager, instances = key.split(":")
        m = run["mean"]
        lines.append(
            f"| {manager} | {instances} | {run['sent']} | {_failures(run['failed'])} "
            f"| {run['sent'] - run['received_by_peers']} "
            f"| {m['received']:.0f} | {m['delivered']:.0f} | {m['undeliverable']:.0f} "
            f"| {m['undeliverable_cpu_ms']:.1f} | {_fmt(m['cpu_ms_per_delivered'])} |")
    return "\n".join(lines)


def _failures(failed: dict[str, int]) -> str:
    return ", ".join(f"{count} {code}" for code, count in failed.items()) or "0"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 3, figsize=(15, 4.5))
    # (axis title, ((figure, line style), ...)): received and delivered share the first axis.
    series = (("events per instance: received (solid), delivered (dashed)", (("received", "-"), ("delivered", "--"))),
              ("CPU on events for nobody here, ms per instance", (("undeliverable_cpu_ms", "-"),)),
              ("worker CPU per delivered message, ms", (("cpu_ms_per_delivered", "-"),)))
    for axis, (title, figures) in zip(axes, series):
        for manager, colour in zip(MANAGERS, ("tab:blue", "tab:orange")):
            for key, style in figures:
                runs = [(int(k.split(":")[1]), run["mean"][key]) for k, run in results["runs"].items()
                        if k.startswith(manager + ":") and run["mean"][key] is not None]
                if runs:
                    axis.plot(*zip(*runs), marker="o", linestyle=style, color=colour, label=manager if len(figures) == 1 else f"{manager} {key}")
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("chat instances")
        axis.set_xscale("log", base=2)
        axis.set_xticks(results["plan"]["instances"], [str(n) for n in results["plan"]["instances"]])
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=8)
    figure.suptitle(f"Socket.IO fan-out at a fixed load per instance ({results['plan']['rate_per_instance']:g} msg/s); "
                    "noisy shared machine", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def run(quick: bool, out_dir: Path, started_stack, redis: str, channel: str, log) -> dict:
    plan = QUICK if quick else FULL
    results: dict = {"plan": asdict(plan), "machine": procinfo.machine(), "runs": {}}
    for manager in MANAGERS:
        for instances in plan.instances:
            log(f"fanout: {manager} manager, {instances} chat instance(s)")
            with started_stack(instances, redis, f"{channel}-fanout-{manager}{instances}", f"{manager}{instances}",
                               env={"SOCKETIO_MANAGER": manager}) as target:
                results["runs"][f"{manager}:{instances}"] = measure(target, target.chat_urls, plan)
    results["load_average_end"] = procinfo.machine()["load_average"]
    (out_dir / "fanout.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    (out_dir / "fanout.md").write_text(text + "\n")
    plot(results, out_dir / "fanout.png")
    print(text)
    log(f"fan-out figures: {out_dir / 'fanout.md'}, plot: {out_dir / 'fanout.png'}")
    return results
