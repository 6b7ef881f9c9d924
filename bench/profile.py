"""Sample a chat worker with py-spy while load runs, and summarise where its CPU goes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record` of one pid in the background; collapsed stacks land in `raw_path`."""

    def __init__(self, pid: int, duration: int, out_dir: Path, name: str):
        self.raw_path = out_dir / f"{name}.txt"
        self.svg_path = out_dir / f"{name}.svg"
        self.error: str | None = None
        self.process: subprocess.Popen | None = None
        executable = py_spy()
        if executable is None:
            self.error = "py-spy is not installed"
            return
        self.process = subprocess.Popen(
            [executable, "record", "--pid", str(pid), "--duration", str(duration), "--rate", "200",
             "--format", "raw", "--output", str(self.raw_path), "--nonblocking"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            output, _ = self.process.communicate(timeout=10)
        if self.process.returncode != 0 or not self.raw_path.exists():
            self.error = f"py-spy failed ({self.process.returncode}): {output.decode(errors='replace')[-300:]}"


def _frame(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: lines of one function add up."""
    name, _, location = frame.partition(" (")
    if not location:
        return name
    path = _LINE_NUMBER.sub(")", location)
    return f"{name} ({path.rsplit('/', 1)[-1]}"


def summarise(raw_path: Path, top: int = 12) -> dict:
    """Top functions by own samples and by inclusive samples (% of all samples)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return {"samples": 0, "own": [], "inclusive": []}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        # Frames under (nearly) every sample -- the greenlet and dispatch entry points -- say nothing.
        ranked = [(name, 100.0 * n / total) for name, n in counter.most_common() if n < 0.9 * total]
        return ranked[:top]

    return {"samples": total, "own": share(own), "inclusive": share(inclusive)}
