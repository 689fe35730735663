"""Embedding throughput on each runtime: the full pipeline (decode + resize in threads + backbone)
and the bare backbone's forward rate on ready-made tensors, for torch and for ONNX Runtime, all
four measured in turns within every round of the same run.

    PYTHONPATH=. python benchmarks/bench_embed.py --images 256 --rounds 3 --write-docs

Images are generated 1024x768 JPEGs of photo-like noise (decoding them is real work). Goals
(the first-question issue): the ONNX Runtime pipeline >= 3x the torch pipeline, and >= 85% of
ONNX Runtime's bare forward (decoding keeps the network fed).
"""

from __future__ import annotations

import os
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


def make_images(folder: Path, count: int, size: tuple[int, int] = (1024, 768)) -> list[Path]:
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
    sources = [lambda p=p: load_image(p, short_side=backbone.load_side) for p in paths]
    start = time.perf_counter()
    total = sum(len(chunk.positions) for chunk in embed_sources(backbone, sources))
    assert total == len(paths)
    return total / (time.perf_counter() - start)


def load_on(runtime: str, name: str):
    """The backbone with its forward on ``runtime`` (``torch`` or ``auto``: ONNX Runtime when it works)."""
    before = os.environ.get("ALDESK_RUNTIME")
    os.environ["ALDESK_RUNTIME"] = runtime
    try:
        return load_backbone(name)
    finally:
        if before is None:
            del os.environ["ALDESK_RUNTIME"]
        else:
            os.environ["ALDESK_RUNTIME"] = before


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = harness.parse(parser, smoke={"backbone": "pixels", "images": 4, "rounds": 1})
    threads = configure_cpu_threads()
    on_torch, on_onnx = load_on("torch", args.backbone), load_on("auto", args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)
        rates = harness.interleave(
            {
                "torch bare": lambda: bare_rate(on_torch, args.images),
                "torch pipeline": lambda: pipeline_rate(on_torch, paths),
                "onnx bare": lambda: bare_rate(on_onnx, args.images),
                "onnx pipeline": lambda: pipeline_rate(on_onnx, paths),
            },
            args.rounds,
        )
    median = {name: harness.median(values) for name, values in rates.items()}
    fed = [harness.ratio(p, b) for p, b in zip(rates["onnx pipeline"], rates["onnx bare"])]
    fed_torch = [harness.ratio(p, b) for p, b in zip(rates["torch pipeline"], rates["torch bare"])]
    gain = [harness.ratio(o, t) for o, t in zip(rates["onnx pipeline"], rates["torch pipeline"])]
    text = (
        "| runtime | bare forward (img/s, median) | full pipeline (img/s, median) | pipeline / bare (median of rounds) |\n"
        "|---|---|---|---|\n"
        f"| torch | {median['torch bare']:.1f} | {median['torch pipeline']:.1f} | {harness.median(fed_torch):.2f} "
        f"(rounds: {harness.runs(fed_torch)}) |\n"
        f"| {on_onnx.runtime} | {median['onnx bare']:.1f} | {median['onnx pipeline']:.1f} | {harness.median(fed):.2f} "
        f"(rounds: {harness.runs(fed)}) |\n\n"
        f"Pipeline on {on_onnx.runtime} / pipeline on torch: {harness.median(gain):.2f}x (rounds: {harness.runs(gain)}).\n"
    )
    print(text)
    if args.write_docs:
        command = harness.command()
        harness.write_section(
            TITLE,
            f"Command: `{command}`\n\n{harness.machine_summary()}; {threads} threads for torch and ONNX Runtime, "
            f"batch {default_batch_size(on_torch)}, {args.backbone}. {args.images} generated 1024x768 JPEGs per "
            "round, decoded with draft mode and resized in worker threads while the network runs; the bare "
            "rate is the same network on a ready tensor batch; the four measures take turns in every round. "
            "Goals: the ONNX Runtime pipeline ≥ 3 × the torch pipeline and ≥ 0.85 × its bare forward.\n\n" + text,
            rows={
                f"Embedding throughput, {args.backbone}": (
                    f"{median['onnx pipeline']:.1f} img/s through the pipeline on {on_onnx.runtime}",
                    f"{harness.median(gain):.2f}x torch's pipeline; {harness.median(fed):.2f} of the bare forward",
                )
            },
            command_line=command,
        )


if __name__ == "__main__":
    main()
