"""The local launcher: `python -m stack up|down|status`, and `Stack` for tests and benchmarks."""

from .stack import Stack, StackError

__all__ = ["Stack", "StackError"]
