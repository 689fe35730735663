"""A terminal progress bar for long CLI commands; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from aldesk.core.eta import Remaining, remaining_words


class TerminalProgress:
    """Callable as ``progress(done, total)``; redraws at most every 0.1 s."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = float("-inf")  # the first report is always drawn
        self._start = time.monotonic()
        self._remaining = Remaining()
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        left = remaining_words(self._remaining.update(self.label, done, total)) if done < total else ""
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        fraction = done / total if total else 1.0
        bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
        rate = done / max(now - self._start, 1e-6)
        # padded: a shorter line ("about 9 s left" after "about 10 min left") leaves no tail behind
        line = f"\r{self.label} [{bar}] {done}/{total} ({rate:,.0f}/s{', ' + left if left else ''})"
        self.stream.write(line.ljust(self._width))
        self._width = max(self._width, len(line))
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
