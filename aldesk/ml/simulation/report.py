"""Simulation inputs and outputs: embedded data sets (cached) and the written report.

Embedding a data set is the slow part of a simulation, so the vectors are cached under the
user's cache folder, keyed by data set, sample and backbone identity.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import platformdirs

from aldesk.ml.encoders.embed import Progress
from aldesk.ml.encoders.encoder import Encoder
from aldesk.ml.simulation.datasets import LabeledItems, load_dataset
from aldesk.ml.simulation.replay import TARGETS, SimulationResult

log = logging.getLogger("aldesk.simulate")


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("aldesk", appauthor=False)) / "simulate"


def embedded_dataset(
    name: str,
    backbone: Encoder,
    *,
    pool_size: int | None,
    test_size: int | None,
    seed: int = 0,
    progress: Progress | None = None,
    test: str | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(pool vectors, pool labels, test vectors, test labels, class names), cached. ``test``: a
    held-out data set to score on instead of a split of ``name``. Items that cannot be read (an
    empty or damaged file) are left out, each said to ``on_skip`` (else logged)."""
    data = load_dataset(name, pool_size=pool_size, test_size=test_size, seed=seed, test=test)
    held_out = f"-test-{_file_key(test)}" if test else ""
    key = f"{_file_key(name)}{held_out}-{backbone.identity}-{pool_size}-{test_size}-{seed}".replace("/", "_")
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            return cached["xp"], cached["yp"], cached["xt"], cached["yt"], data.class_names
    xp, xt, kept = _embed_all(data, backbone, progress, on_skip or (lambda line: log.warning("%s", line)))
    yp, yt = data.train_labels[kept[: len(xp)]], data.test_labels[kept[len(xp) :]]
    xp, xt = xp[kept[: len(xp)]], xt[kept[len(xp) :]]
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".partial.npz")
    np.savez(temp, xp=xp, yp=yp, xt=xt, yt=yt)
    temp.replace(path)
    return xp, yp, xt, yt, data.class_names


def _file_key(name: str) -> str:
    """A data set's part of a cache key: a file's name, size and time, so an edited file is embedded again."""
    path = Path(name)
    if path.is_file():
        stat = path.stat()
        return f"{path.name}-{stat.st_size}-{int(stat.st_mtime)}"
    return path.name


def _embed_all(
    data: LabeledItems, backbone: Encoder, progress: Progress | None, on_skip: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool and test vectors (every item, a failed one as zeros) and which items were read."""
    sources = data.train_images + data.test_images
    split = len(data.train_images)
    out = np.zeros((len(sources), backbone.spec.dim), dtype=np.float32)
    kept = np.ones(len(sources), dtype=bool)
    for chunk in backbone.chunks(sources, progress=progress):
        out[chunk.positions] = chunk.vectors
        for position, reason in chunk.failures:
            kept[position] = False
            part, index = ("pool", position) if position < split else ("test split", position - split)
            label = data.class_names[int((data.train_labels if position < split else data.test_labels)[index])]
            on_skip(f"skipped {part} item {index} (class {label}): {reason}")
    return out[:split].astype(np.float16), out[split:].astype(np.float16), kept


def write_report(result: SimulationResult, out: Path, title: str) -> list[Path]:
    """curves.csv, summary.md, result.json and learning_curves.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "curves.csv", out / "summary.md", out / "result.json", out / "learning_curves.png"]
    with open(written[0], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["strategy", "seed", "labels", "accuracy"])
        for name, curve in result.curves.items():
            for seed, accuracies in enumerate(curve.accuracy):
                writer.writerows([name, seed, n, f"{a:.5f}"] for n, a in zip(curve.labels, accuracies))
    written[1].write_text(summary_table(result, title))
    written[2].write_text(json.dumps(result.to_json(), indent=1))
    _plot(result, written[3], title)
    return written


def summary_table(result: SimulationResult, title: str) -> str:
    """Markdown: labels to reach each fraction of full-pool accuracy, and the ratio to random."""
    labels_to = result.labels_to()
    base = labels_to.get("random", {})
    budget = max(result.curves[next(iter(result.curves))].labels)
    lines = [
        f"### {title}",
        "",
        f"Full-pool accuracy (supervised head on every pool label): {result.full_pool_accuracy:.4f}; "
        f"head under test: `{result.head}`; {len(next(iter(result.curves.values())).accuracy)} seeds.",
        "",
        "| strategy | "
        + " | ".join(f"labels to {t:.0%}" for t in TARGETS)
        + " | "
        + " | ".join(f"ratio to random at {t:.0%}" for t in TARGETS)
        + " |",
        "|---" * (1 + 2 * len(TARGETS)) + "|",
    ]
    for name, reached in labels_to.items():
        cells = [str(v) if v is not None else f">{budget}" for v in reached.values()]
        ratios = []
        for key, value in reached.items():
            ref = base.get(key)
            ratios.append(f"{value / ref:.2f}" if value and ref else "n/a")
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines) + "\n"


def _plot(result: SimulationResult, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, curve in result.curves.items():
        mean, std = curve.mean(), curve.std()
        ax.plot(curve.labels, mean, label=name, linewidth=1.6)
        ax.fill_between(curve.labels, mean - std, mean + std, alpha=0.18)
    ax.axhline(result.full_pool_accuracy, color="grey", linestyle="--", linewidth=1, label="full pool")
    ax.axhline(0.98 * result.full_pool_accuracy, color="grey", linestyle=":", linewidth=1, label="98% of full pool")
    ax.set_xlabel("labels")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
