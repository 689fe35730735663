"""Embedding throughput: the full pipeline (decode + resize in threads + backbone) against the
bare backbone's forward rate on ready-made tensors, measured alternately in the same run.

    PYTHONPATH=. python benchmarks/bench_embed.py --images 256 --rounds 3 --write-docs

Images are generated 1600x1200 JPEG photos-like noise (decoding them is real work), so the
ratio shows whether decoding keeps the backbone fed (goal: pipeline >= 85% of bare).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aldesk.core.imageio import load_image  # noqa: E402
from aldesk.ml.encoders import load_backbone  # noqa: E402
from aldesk.ml.device import configure_cpu_threads  # noqa: E402
from aldesk.ml.encoders.embed import default_batch_size, embed_sources  # noqa: E402
from benchmarks.docs import machine_summary, replace_section  # noqa: E402


def make_images(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = rng.integers(0, 255, size=(12, 16, 3), dtype=np.uint8)
        picture = Image.fromarray(base).resize((1600, 1200), Image.Resampling.BICUBIC)
        path = folder / f"{i:04}.jpg"
        picture.save(path, quality=90)
        paths.append(path)
    return paths


def bare_rate(backbone, count: int) -> float:
    """Images/s of the backbone alone on one prepared batch, repeated."""
    size = backbone.spec.input_size
    batch_size = default_batch_size(backbone)
    batch = torch.randn(batch_size, 3, size, size)
    backbone.embed(batch)  # warm-up
    done, start = 0, time.perf_counter()
    while done < count:
        backbone.embed(batch)
        done += batch_size
    return done / (time.perf_counter() - start)


def pipeline_rate(backbone, paths: list[Path]) -> float:
    sources = [lambda p=p: load_image(p, max_side=backbone.load_side) for p in paths]
    start = time.perf_counter()
    total = sum(len(chunk.positions) for chunk in embed_sources(backbone, sources))
    assert total == len(paths)
    return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    threads = configure_cpu_threads()
    backbone = load_backbone(args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)
        bare, piped = [], []
        for _ in range(args.rounds):  # alternate, so both see the same machine load
            bare.append(bare_rate(backbone, args.images))
            piped.append(pipeline_rate(backbone, paths))
    ratios = [p / b for p, b in zip(piped, bare)]
    text = (
        "| backbone | bare forward (img/s, median) | full pipeline (img/s, median) | pipeline / bare (median of rounds) |\n"
        "|---|---|---|---|\n"
        f"| {args.backbone} | {statistics.median(bare):.1f} | {statistics.median(piped):.1f} | "
        f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}) |\n"
    )
    print(text)
    if args.write_docs:
        command = "PYTHONPATH=. python benchmarks/bench_embed.py " + " ".join(sys.argv[1:])
        replace_section(
            "Embedding throughput",
            f"Command: `{command}`\n\n{machine_summary()}; {threads} torch threads, batch "
            f"{default_batch_size(backbone)}. {args.images} generated 1600x1200 JPEGs per round, decoded "
            "with draft mode and resized in worker threads while the backbone runs; the bare rate is "
            "the same backbone on a ready tensor batch. Goal: pipeline ≥ 0.85 × bare.\n\n" + text,
        )


if __name__ == "__main__":
    main()
