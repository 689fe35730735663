"""Embedding throughput: the full pipeline (decode + resize in threads + backbone) against the
bare backbone's forward rate on ready-made tensors, measured alternately in the same run.

    PYTHONPATH=. python benchmarks/bench_embed.py --images 256 --rounds 3 --write-docs

Images are generated 1600x1200 JPEG photos-like noise (decoding them is real work), so the
ratio shows whether decoding keeps the backbone fed (goal: pipeline >= 85% of bare).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aldesk.core.imageio import load_image
from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.encoders import load_backbone
from aldesk.ml.encoders.embed import default_batch_size, embed_sources
from benchmarks import harness

TITLE = "Embedding throughput"


def make_images(folder: Path, count: int, size: tuple[int, int] = (1600, 1200)) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = rng.integers(0, 255, size=(12, 16, 3), dtype=np.uint8)
        picture = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)
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
    parser = harness.parser(__doc__)
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = harness.parse(parser, smoke={"backbone": "pixels", "images": 4, "rounds": 1})
    threads = configure_cpu_threads()
    backbone = load_backbone(args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)
        # alternate, so both see the same machine load
        rates = harness.interleave(
            {"bare": lambda: bare_rate(backbone, args.images), "pipeline": lambda: pipeline_rate(backbone, paths)}, args.rounds
        )
    bare, piped = rates["bare"], rates["pipeline"]
    ratios = [harness.ratio(p, b) for p, b in zip(piped, bare)]
    text = (
        "| backbone | bare forward (img/s, median) | full pipeline (img/s, median) | pipeline / bare (median of rounds) |\n"
        "|---|---|---|---|\n"
        f"| {args.backbone} | {harness.median(bare):.1f} | {harness.median(piped):.1f} | "
        f"{harness.median(ratios):.2f} (rounds: {harness.runs(ratios)}) |\n"
    )
    print(text)
    if args.write_docs:
        command = harness.command()
        harness.write_section(
            TITLE,
            f"Command: `{command}`\n\n{harness.machine_summary()}; {threads} torch threads, batch "
            f"{default_batch_size(backbone)}. {args.images} generated 1600x1200 JPEGs per round, decoded "
            "with draft mode and resized in worker threads while the backbone runs; the bare rate is "
            "the same backbone on a ready tensor batch. Goal: pipeline ≥ 0.85 × bare.\n\n" + text,
            rows={
                f"Embedding throughput, {args.backbone}": (
                    f"{harness.median(piped):.1f} img/s through the pipeline",
                    f"{harness.median(ratios):.2f} of the bare forward rate",
                )
            },
            command_line=command,
        )


if __name__ == "__main__":
    main()
