"""The time-left estimate of a running stage, on a clock the test moves."""

from __future__ import annotations

import pytest

from aldesk.core.eta import Remaining, remaining_words


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_is_measured_from_the_stages_first_report_not_from_zero():
    clock = Clock()
    remaining = Remaining(clock)
    assert remaining.update("embedding", 100, 1000) is None  # the first report: nothing measured yet
    clock.now += 10
    # 100 more items in 10 s: 800 left take 80 s (counting from zero would say 40 s)
    assert remaining.update("embedding", 200, 1000) == pytest.approx(80.0)


def test_no_estimate_before_the_stage_has_run_a_little():
    clock = Clock()
    remaining = Remaining(clock)
    remaining.update("embedding", 0, 1000)
    clock.now += 1
    assert remaining.update("embedding", 500, 1000) is None  # 1 s is too short to trust
    clock.now += 5
    assert remaining.update("embedding", 10, 1000) is None  # went back: a new start
    clock.now += 5
    assert remaining.update("embedding", 15, 1000) is None  # 0.5% of the stage is too little
    clock.now += 5
    assert remaining.update("embedding", 60, 1000) == pytest.approx(940 * 10 / 50)


def test_a_new_stage_starts_a_new_estimate():
    clock = Clock()
    remaining = Remaining(clock)
    remaining.update("embedding", 0, 100)
    clock.now += 10
    assert remaining.update("embedding", 50, 100) == pytest.approx(10.0)
    clock.now += 1
    assert remaining.update("training", 1, 10) is None
    assert remaining.update("training", 5, 1) is None  # no total: a busy indicator, no estimate


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, ""),
        (3, "about 10 s left"),
        (44, "about 40 s left"),
        (58, "about 1 min left"),
        (150, "about 2 min left"),
        (3600, "about 1 h left"),
        (4800, "about 1 h 20 min left"),
    ],
)
def test_remaining_words(seconds, words):
    assert remaining_words(seconds) == words
