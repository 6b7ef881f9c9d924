"""What the benchmark reads about processes from /proc: memory, CPU time, children."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time of one process (all its threads, not its children), in nanoseconds' precision.

    /proc/<pid>/stat counts 10 ms ticks: too coarse for CPU per message at a few
    messages per second; schedstat's run time is exact.
    """
    return sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9


def machine_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds) for every process we can read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


def cpu_split(before: dict, after: dict, wall: float, named: dict[str, list[int]]) -> dict[str, float]:
    """% of one core per group over an interval: the `named` pid groups, then by command name."""
    group_of = {pid: group for group, pids in named.items() for pid in pids}
    split: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        used = seconds - before.get(pid, (name, 0.0))[1]
        if used <= 0:
            continue
        group = group_of.get(pid) or (name if name in ("postgres", "nginx", "redis-server") else "other")
        split[group] = split.get(group, 0.0) + 100.0 * used / wall
    return dict(sorted(split.items(), key=lambda item: -item[1]))


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        # Other work on the machine skews every figure; the load average says how much there was.
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def listen_port() -> int:
    """A free port below the kernel's ephemeral range.

    shared.testing.free_port() hands out ephemeral ports, and the benchmark's
    thousands of client sockets take ephemeral ports too, so a server started a
    moment later could find its port taken.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(20000, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")
