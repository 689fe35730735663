"""A terminal progress bar for long CLI commands; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Callable as ``progress(done, total)``; redraws at most every 0.1 s."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        fraction = done / total if total else 1.0
        bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
        rate = done / max(now - self._start, 1e-6)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} ({rate:,.0f}/s)")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


class StageProgress:
    """Callable as ``progress(stage, done, total)`` (a round's steps): one bar per stage, each
    labelled with it, on a terminal only."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._bar: TerminalProgress | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bar is None or self._bar.label != stage:
            self._bar = TerminalProgress(stage, self.stream)
        self._bar(done, total)
