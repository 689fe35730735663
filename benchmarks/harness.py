"""What every benchmark script shares: where the checkout is, the machine, repeats and medians,
the command line (``--write-docs``, ``--smoke``) and the sections of docs/benchmarks.md.

Run a script from the repository root, either way::

    PYTHONPATH=. python benchmarks/bench_refresh.py --sizes 100000 --repeats 5
    python -m benchmarks.bench_refresh --sizes 100000 --repeats 5

Both put this checkout first on ``sys.path``, so the code measured is the code beside the
script; importing this module stops the run with a message when it is not (for example a
``python benchmarks/x.py`` without ``PYTHONPATH`` in a virtual environment whose editable aldesk
is another checkout).

``--smoke`` (every script): tiny data, one repeat, outputs in a temporary folder, ``--write-docs``
into a copy of docs/ (``ALDESK_BENCH_DOCS``), never into docs/ itself. tests/benchmarks/test_smoke.py
runs every script that way, so that none rots unnoticed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import io
import os
import platform
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs"
DOCS_ENV = "ALDESK_BENCH_DOCS"  # a folder standing in for docs/ (smoke runs set it)
CODE_ENV = "ALDESK_BENCH_CODE"  # a child measuring another revision imports aldesk from there
# Generated test data kept between runs (large: JPEGs, the million-item project).
CACHE = Path(
    os.environ.get("ALDESK_BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aldesk" / "bench"
)
GLANCE = "At a glance"


# -- the checkout ------------------------------------------------------------------------------


def _check_checkout() -> None:
    """Stop when the script, this module or aldesk would come from different checkouts."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and Path(main).resolve().parent.name == "benchmarks" and Path(main).resolve().parent != ROOT / "benchmarks":
        sys.exit(
            f"{main} imported the benchmarks of {ROOT}; run it from its repository root with "
            f"PYTHONPATH=. (or as python -m benchmarks.{Path(main).stem})"
        )
    if os.environ.get(CODE_ENV):
        return
    spec = importlib.util.find_spec("aldesk")
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is not None and ROOT not in origin.parents:
        sys.exit(
            f"aldesk would be imported from {origin.parent}, not from this checkout ({ROOT}); run from "
            "the repository root with PYTHONPATH=. (or as python -m benchmarks.NAME)"
        )


_check_checkout()


def use_code_from_env() -> None:
    """In a child measuring another revision (``CODE_ENV``): import aldesk from that tree. Call it
    after importing this module and before anything imports aldesk (the benchmarks package itself
    stays this checkout's)."""
    code = os.environ.get(CODE_ENV)
    if code:
        sys.path.insert(0, code)


@contextmanager
def code_at(rev: str, paths: tuple[str, ...] = ("aldesk", "resources")) -> Iterator[Path]:
    """A temporary copy of ``paths`` at git revision ``rev`` (``git archive``: read-only git, no
    worktree registered), removed afterwards; put it on PYTHONPATH to run that revision's aldesk."""
    with tempfile.TemporaryDirectory(prefix="aldesk-baseline-") as folder:
        tree = Path(folder) / "tree"
        present = [
            p
            for p in paths
            if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:{p}"], capture_output=True).returncode == 0
        ]
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", rev, *present], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                tar.extractall(tree, filter="data")
            else:
                tar.extractall(tree)  # noqa: S202 - our own repository's files
        yield tree


def revision(rev: str = "HEAD") -> str:
    """The short commit of ``rev``, or "unknown" outside a git checkout."""
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def code_revision() -> str:
    """The commit measured, and whether aldesk/ differs from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "--no-optional-locks", "status", "--porcelain", "--", "aldesk"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted or untracked files in aldesk/" if dirty else "")


# -- the machine -------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown CPU" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def ram_gib() -> float | None:
    """Total RAM in GiB from /proc/meminfo, or None where it cannot be read."""
    try:
        return int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        return None


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> str:
    """The 1, 5 and 15 minute load averages ("unknown" where there are none)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_summary(device: str = "no GPU used") -> str:
    """One line for a section: cores, CPU, RAM, OS and the device measured."""
    ram = ram_gib()
    memory = f", {ram:.0f} GiB RAM" if ram is not None else ""
    cores = f"{os.cpu_count()}" if usable_cpus() == os.cpu_count() else f"{usable_cpus()} usable of {os.cpu_count()}"
    return f"Machine: {cores} cores ({cpu_model()}){memory}, {platform.system()}, {device}"


def machine(workdir: Path | None = None) -> dict[str, str]:
    """The long description (cores, RAM, CPU, OS, file system of ``workdir``, versions, code)."""
    from PIL import __version__ as pillow_version

    total = ram_gib()
    usable = usable_cpus()
    return {
        "cores": f"{usable}" if usable == os.cpu_count() else f"{usable} usable of {os.cpu_count()}",
        "ram": f"{total:.1f} GiB" if total is not None else "unknown",
        "cpu": cpu_model(),
        "gpu": "no GPU used",
        "os": f"{platform.system()} {platform.release()}",
        "filesystem": filesystem(workdir or Path.cwd()),
        "python": platform.python_version(),
        "pillow": pillow_version,
        "sqlite": sqlite3.sqlite_version,
        "aldesk": code_revision(),
    }


def filesystem(path: Path) -> str:
    """File system type and device holding ``path`` (from /proc/mounts), e.g. 'ext4 on /dev/vda'."""
    best = ("", "unknown", "?")
    try:
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best[0]):
                best = (mount, fstype, device)
    except OSError:
        pass
    return f"{best[1]} on {best[2]}"


# -- repeats, medians, baselines ----------------------------------------------------------------


def median(values: Iterable[float], empty: float | None = None) -> float:
    """The median of any iterable (a generator too); with none, ``empty`` if given, else the
    error statistics.median raises."""
    values = list(values)
    if not values and empty is not None:
        return empty
    return statistics.median(values)


def ratio(value: float, baseline: float) -> float:
    """``value`` / ``baseline`` (NaN when the baseline is 0: nothing to compare with)."""
    return value / baseline if baseline else float("nan")


def runs(values: Iterable[float], digits: int = 2) -> str:
    """Every run's figure, for a table cell: "0.54, 0.51, 0.42"."""
    return ", ".join(f"{v:.{digits}f}" for v in values)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): the value at or below which q% of values lie."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """n, p50, p90, p99, max and mean (NaN when there are none)."""
    if not values:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan"), "mean": float("nan")}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def repeat(fn: Callable[[], object], n: int, *, warmup: int = 0) -> list[float]:
    """Wall seconds of each of ``n`` calls of ``fn``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleave(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each measure's values over ``rounds``, the measures taking turns within every round, so a
    same-run baseline sees the same stretch of machine load as what it is the baseline of."""
    out: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            out[name].append(measure())
    return out


# -- the command line --------------------------------------------------------------------------


def parser(doc: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """An ArgumentParser with the options every script has: --write-docs and --smoke. Its
    description is the docstring's first line unless ``description`` is given."""
    if "description" not in kwargs and doc:
        kwargs["description"] = doc.strip().splitlines()[0]
    p = argparse.ArgumentParser(**kwargs)
    p.add_argument("--write-docs", action="store_true", help="write this script's section of docs/benchmarks.md")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run to check the script works: tiny data, one repeat, outputs in a temporary "
        f"folder, --write-docs into a copy of docs/ (${DOCS_ENV}); the figures mean nothing",
    )
    return p


def parse(p: argparse.ArgumentParser, argv: list[str] | None = None, *, smoke: dict[str, object]) -> argparse.Namespace:
    """Parse ``argv``; with --smoke the defaults become ``smoke`` (options given still win) and
    docs/ is replaced by a copy for this run."""
    argv = sys.argv[1:] if argv is None else argv
    known = {action.dest for action in p._actions}
    unknown = set(smoke) - known
    if unknown:
        raise ValueError(f"smoke sizes for options this script does not have: {sorted(unknown)}")
    if "--smoke" in argv:
        p.set_defaults(**smoke)
    args = p.parse_args(argv)
    if args.smoke:
        docs = docs_dir()
        if docs == DOCS_DIR:  # never the real docs/ in a smoke run
            docs = scratch("docs")
            for name in ("benchmarks.md", "reliability.md"):
                if (DOCS_DIR / name).exists():
                    shutil.copy(DOCS_DIR / name, docs / name)
            os.environ[DOCS_ENV] = str(docs)  # children inherit it
        print(f"smoke run: tiny sizes, the figures mean nothing; docs go to {docs}", flush=True)
    return args


def command(prefix: str = "PYTHONPATH=. python", argv: list[str] | None = None) -> str:
    """The command line as it was run, from the repository root (for a section's "Command:")."""
    argv = sys.argv if argv is None else argv
    return f"{prefix} benchmarks/{Path(argv[0]).name} {shlex.join(argv[1:])}".rstrip()


def scratch(name: str) -> Path:
    """A new temporary folder (under TMPDIR) for a smoke run's outputs; not removed, so a failing
    run can be looked at (the smoke test points TMPDIR at pytest's own temporary folder)."""
    return Path(tempfile.mkdtemp(prefix=f"bench-smoke-{name}-"))


def out_dir(args: argparse.Namespace, path: Path, name: str = "out") -> Path:
    """``path``, or a scratch folder in a smoke run (results/ is kept for real runs)."""
    return scratch(name) if args.smoke else path


# -- docs/benchmarks.md ------------------------------------------------------------------------

DOCS_INTRO = """\
# Benchmarks

What aldesk costs in time and memory on an ordinary workstation, measured by the scripts in
`benchmarks/` (`benchmarks/README.md` lists them). Each section names its exact command; with
`--write-docs` a script replaces its own section here and leaves the others alone.
"""


def docs_dir() -> Path:
    """docs/, or the folder standing in for it (``ALDESK_BENCH_DOCS``: smoke runs)."""
    return Path(os.environ[DOCS_ENV]) if os.environ.get(DOCS_ENV) else DOCS_DIR


def docs_path(name: str = "benchmarks.md") -> Path:
    return docs_dir() / name


def replace_section(title: str, body: str, path: Path | None = None) -> None:
    """Write ``## title`` with ``body``, replacing that section if it exists, else appending."""
    path = path or docs_path()
    text = path.read_text(encoding="utf-8") if path.exists() else DOCS_INTRO
    section = f"## {title}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def keep_open_problems_last(path: Path | None = None) -> None:
    """replace_section appends new sections at the end; the "Open problems" section stays last."""
    path = path or docs_path()
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^## Open problems\n.*?(?=^## |\Z)", text, re.S | re.M)
    if match and text[match.end() :].strip():
        rest = (text[: match.start()] + text[match.end() :]).rstrip()
        path.write_text(rest + "\n\n" + match.group(0).rstrip() + "\n", encoding="utf-8")


def write_section(
    title: str,
    body: str,
    *,
    rows: dict[str, tuple[str, str]] | None = None,
    command_line: str | None = None,
    path: Path | None = None,
) -> Path:
    """Replace the section ``## title`` (Open problems stays last) and, for each ``rows`` entry
    ``metric: (latest figure, ratio to its baseline)``, that row of the at-a-glance table with
    today's date and ``command_line`` (a metric not in the table yet gets a new row: fill in its
    goal by hand). Returns the file written."""
    path = path or docs_path()
    replace_section(title, body, path)
    keep_open_problems_last(path)
    if rows:
        update_glance(title, rows, command_line or command(), path)
    print(f"wrote the section {title!r} of {path}", flush=True)
    return path


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def update_glance(title: str, rows: dict[str, tuple[str, str]], command_line: str, path: Path) -> None:
    """Set figure, ratio, date and command of the at-a-glance rows named by ``rows``' keys."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(GLANCE)}\n.*?(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        return
    section = match.group(0).splitlines()
    table_end = max((i for i, line in enumerate(section) if line.startswith("|")), default=None)
    if table_end is None:
        return
    today = dt.date.today().isoformat()
    cell = command_line.replace("|", "\\|")
    for metric, (figure, versus) in rows.items():

        def row(goal: str) -> str:
            return f"| [{metric}](#{slug(title)}) | {goal} | {figure} | {versus} | {today} | `{cell}` |"

        for i, line in enumerate(section):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if line.startswith(f"| [{metric}](") and len(cells) > 1:
                section[i] = row(cells[1])
                break
        else:  # a new row: after the rows of the same section, else at the end of the table
            siblings = [i for i, line in enumerate(section) if f"](#{slug(title)}) |" in line]
            at = (siblings[-1] if siblings else table_end) + 1
            section.insert(at, row("-"))
            table_end += 1
    text = text[: match.start()] + "\n".join(section).rstrip() + "\n\n" + text[match.end() :]
    path.write_text(text, encoding="utf-8")


# -- the Qt event loop, for the window benchmarks ------------------------------------------------


def pump(msec: int) -> None:
    """Run the Qt event loop for ``msec`` ms. Not QTest.qWait: PySide's qWait holds the GIL while
    it sleeps between event batches, which starved every other Python thread (the learning
    worker, the decoders, the sender) to ~2% of their speed in bench_keypress.py's first runs."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(msec, loop.quit)
    loop.exec()


# -- data for smoke runs -----------------------------------------------------------------------


def tiny_pool(n: int = 400, dim: int = 64, classes: int = 10, seed: int = 0):
    """A small Gaussian mixture (float16 vectors, int64 classes) standing in for a cached pool of
    embeddings in smoke runs, where no data set may be downloaded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dim)).astype(np.float32)
    y = np.arange(n, dtype=np.int64) % classes
    rng.shuffle(y)
    x = centres[y] + rng.normal(0, 1, (n, dim)).astype(np.float32)
    return x.astype(np.float16), y


TINY = "tiny"  # the data set name of tiny_images()


def tiny_images(classes: int = 3, per_class: int = 60, side: int = 16) -> Path:
    """A small labeled image folder (one sub-folder per class, as ``aldesk simulate`` reads a folder
    data set), generated once into CACHE: each class a colour plus noise, so it can be learned."""
    import numpy as np
    from PIL import Image

    folder = CACHE / f"tiny-images-{classes}x{per_class}-{side}"
    if (folder / "done").exists():
        return folder
    rng = np.random.default_rng(0)
    for k in range(classes):
        (folder / f"class{k}").mkdir(parents=True, exist_ok=True)
        colour = rng.integers(0, 256, 3)
        for i in range(per_class):
            pixels = np.clip(colour + rng.normal(0, 60, (side, side, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"class{k}" / f"{i:03d}.png")
    (folder / "done").write_text("")
    return folder


def dataset(name: str) -> str:
    """What ``aldesk simulate``'s data sets are called, with ``tiny`` for tiny_images()."""
    return str(tiny_images()) if name == TINY else name
