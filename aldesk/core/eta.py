"""How long a running stage (embedding, training, a fine-tuning) still needs, from its progress.

One estimator serves the terminal's bars and the window's status bar. The rate is measured from
the stage's first report on, not from zero: the first batch pays for loading the model and
would make every early estimate too long. No estimate is given until the stage has run a
little (MIN_SECONDS and MIN_FRACTION), because a guess that jumps from 2 min to 40 min in the
first seconds costs more trust than no guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_SECONDS = 3.0  # of measured progress before the first estimate
MIN_FRACTION = 0.02  # of the stage done since its first report, likewise


class Remaining:
    """``update(stage, done, total)`` on each progress report -> the seconds left, or None."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._stage: str | None = None
        self._first: tuple[float, int] = (0.0, 0)  # (time, done) of the stage's first report
        self._last_done = 0

    def update(self, stage: str, done: int, total: int) -> float | None:
        now = self._clock()
        went_back, self._last_done = done < self._last_done, done
        if stage != self._stage or went_back or total <= 1:
            self._stage, self._first = stage, (now, done)  # a new stage (or one started again)
            return None
        started, done_first = self._first
        elapsed, progressed = now - started, done - done_first
        if elapsed < MIN_SECONDS or progressed < max(1, MIN_FRACTION * total):
            return None
        return max(total - done, 0) * elapsed / progressed


def remaining_words(seconds: float | None) -> str:
    """'about 40 s left', 'about 3 min left', 'about 1 h 20 min left'; '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 55:
        return f"about {max(10, round(seconds / 10) * 10)} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"
