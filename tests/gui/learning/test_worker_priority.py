"""The learning thread yields the CPU to key presses and image decodes (Linux: per-thread nice)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from aldesk.gui.learning.worker import BACKGROUND_NICE, lower_thread_priority


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux-only")
def test_only_the_calling_thread_is_lowered():
    seen = {}

    def body():
        lower_thread_priority()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen["thread"] == max(before, BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the GUI thread keeps its priority
