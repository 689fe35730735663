"""The window starts without torch: training runs in the learning process, and importing torch
(about 2 s here) would delay the first paint. A module-level import of the round, a head or the
pool from the window's side brings it back; this test names the chain's end."""

from __future__ import annotations

import subprocess
import sys


def test_the_window_and_what_it_stores_import_without_torch():
    code = (
        "import sys\n"
        "import aldesk.gui.app, aldesk.gui.main_window, aldesk.gui.learning.controller, aldesk.gui.learning.tuner, aldesk.ml.loop.store\n"
        "print(','.join(sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'torchvision'))[:3]))\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == ""
