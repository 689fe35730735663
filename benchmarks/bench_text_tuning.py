"""Text encoder fine-tuning: which way of tuning all-MiniLM-L6-v2 on a few hundred labels helps.

    PYTHONPATH=. python benchmarks/bench_text_tuning.py --write-docs

TREC-6 coarse (``../shared/data/trec``: 5,452 training questions as the pool, the 500 test
questions held out). For each of ``--labels`` random labeled sets (``--seeds`` seeds each) the
frozen encoder and each of ``--configs`` (``method:learning-rate:epochs``) are scored the same
way: ``aldesk.ml.encoders.tuning.fine_tune`` on the labeled questions, the whole pool and the
test split embedded again with the tuned encoder, the pool's whitening (as the app fits it) and
the plain head (``fit_linear``, class-balanced logistic regression) on the labeled questions'
vectors, accuracy on the test questions. Timed: the tuning, and the re-embedding of pool and test
(given per 5,000 texts), with ``--threads`` torch threads.

``--split validation``: 1,000 pool questions stand in for the test split (they are left out of
the labels), so settings can be chosen without looking at the test questions. ``--smoke``:
generated sentences of 3 classes, tiny settings. Needs the text extra (``pip install
'aldesk[text]'``).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import harness

TITLE = "Text encoder fine-tuning"
TREC = harness.ROOT.parent / "shared" / "data" / "trec"
GOAL = 120.0  # seconds: fine-tune on the labels + re-embed a 5,000-text pool, 2 cores
VALIDATION = 1000  # pool questions that stand in for the test split with --split validation
PER = 5000  # the re-embedding time is given per this many texts


def read_trec(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in path.read_text(encoding="latin-1").splitlines():
        head, _, text = line.partition(" ")
        if text.strip():
            labels.append(head.split(":", 1)[0])
            texts.append(text.strip())
    return texts, labels


def generated(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Short sentences of three topics (the smoke run's data)."""
    rng = np.random.default_rng(seed)
    topics = {
        "animal": "cat dog horse bird fish mouse lion tiger".split(),
        "money": "price bank stock market loan tax salary coin".split(),
        "place": "city river mountain country island street village lake".split(),
    }
    frames = ["What is the {} ?", "Tell me about the {} .", "Where is a {} ?", "How big is the {} ?"]
    names = sorted(topics)
    labels = [names[i % 3] for i in range(n)]
    texts = [str(rng.choice(frames)).format(" ".join(rng.choice(topics[c], size=2))) for c in labels]
    return texts, labels


@dataclass
class Cell:
    accuracy: list[float] = field(default_factory=list)
    tune: list[float] = field(default_factory=list)
    embed: list[float] = field(default_factory=list)  # seconds per PER texts


def mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "-"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--labels", default="100,160,260", help="sizes of the random labeled sets")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--configs",
        default="cross-entropy:1e-4:4,pairs:1e-4:4,supcon:1e-4:4",
        help="method:learning-rate:epochs, comma-separated (methods: cross-entropy, pairs, supcon)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--data", type=Path, default=TREC)
    parser.add_argument("--pool", type=int, default=0, help="use only the first N pool questions (0: all)")
    args = harness.parse(
        parser,
        smoke={
            "labels": "12",
            "seeds": 1,
            "configs": "cross-entropy:1e-4:1,pairs:1e-4:1",
            "max_tokens": 16,
            "pool": 60,
            "threads": 1,
        },
    )
    os.environ["ALDESK_THREADS"] = str(args.threads)

    import torch

    from aldesk.ml.encoders import minilm
    from aldesk.ml.encoders.tuning import TuneSettings, fine_tune
    from aldesk.ml.features import fit_whitening
    from aldesk.ml.heads.linear import fit_linear

    if minilm.package_dir() is None:
        sys.exit(minilm.locate().hint)
    encoder = minilm.load_text_encoder("cpu")
    torch.set_num_threads(args.threads)

    if args.smoke:
        pool_texts, pool_names = generated(args.pool, 0)
        test_texts, test_names = generated(30, 1)
        source = f"{args.pool} generated sentences of 3 topics as the pool, 30 more as the test split"
    else:
        pool_texts, pool_names = read_trec(args.data / "train_5500.label")
        test_texts, test_names = read_trec(args.data / "TREC_10.label")
        if args.pool:
            pool_texts, pool_names = pool_texts[: args.pool], pool_names[: args.pool]
        source = f"TREC-6 coarse: {len(pool_texts):,} training questions as the pool, the {len(test_texts)} test questions"
        if args.split == "validation":
            held = np.random.default_rng(12345).permutation(len(pool_texts))
            test_i, keep = np.sort(held[:VALIDATION]), np.sort(held[VALIDATION:])
            test_texts, test_names = [pool_texts[i] for i in test_i], [pool_names[i] for i in test_i]
            pool_texts, pool_names = [pool_texts[i] for i in keep], [pool_names[i] for i in keep]
            source = (
                f"TREC-6 coarse, validation: {len(pool_texts):,} training questions as the pool, {VALIDATION:,} other "
                "training questions held out in place of the test split (the test questions unused)"
            )
    classes = sorted(set(pool_names) | set(test_names))
    y_pool = np.array([classes.index(c) for c in pool_names])
    y_test = np.array([classes.index(c) for c in test_names])
    n_classes = len(classes)
    configs = []
    for item in args.configs.split(","):
        method, lr, epochs = item.split(":")
        configs.append(
            (
                f"{method}:{float(lr):g}:{int(epochs)}",
                TuneSettings(
                    method=method,  # type: ignore[arg-type]
                    epochs=int(epochs),
                    learning_rate=float(lr),
                    batch_size=args.batch_size,
                    max_tokens=args.max_tokens,
                ),
            )
        )
    sizes = [int(n) for n in args.labels.split(",")]
    everything = pool_texts + test_texts

    def embed(model: minilm.TextEncoder) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        vectors = model.embed_texts(everything)
        seconds = time.perf_counter() - start
        return vectors[: len(pool_texts)], vectors[len(pool_texts) :], seconds * PER / len(everything)

    def score(pool_vectors: np.ndarray, test_vectors: np.ndarray, labeled: np.ndarray) -> float:
        whitening = fit_whitening(pool_vectors)
        z = whitening.apply(pool_vectors)
        head = fit_linear(z[torch.from_numpy(labeled)], torch.from_numpy(y_pool[labeled]), n_classes)
        predicted = head.logits(whitening.apply(test_vectors)).argmax(1).numpy()
        return float(np.mean(predicted == y_test))

    load_before = harness.load_average()
    frozen_pool, frozen_test, frozen_embed = embed(encoder)
    cells: dict[tuple[int, str], Cell] = {}
    ceiling = score(frozen_pool, frozen_test, np.arange(len(pool_texts)))
    print(f"{source}; frozen encoder with every pool label: {ceiling:.3f}", flush=True)
    for n in sizes:
        for seed in range(args.seeds):
            labeled = np.sort(np.random.default_rng(seed).choice(len(pool_texts), n, replace=False))
            frozen = cells.setdefault((n, "frozen"), Cell())
            frozen.accuracy.append(score(frozen_pool, frozen_test, labeled))
            frozen.embed.append(frozen_embed)
            line = [f"{n} labels, seed {seed}: frozen {frozen.accuracy[-1]:.3f}"]
            for name, settings in configs:
                settings = TuneSettings(**{**settings.__dict__, "seed": seed})
                start = time.perf_counter()
                tuned = fine_tune(encoder, [pool_texts[i] for i in labeled], y_pool[labeled], n_classes, settings)
                tune_seconds = time.perf_counter() - start
                assert tuned is not None
                pool_vectors, test_vectors, embed_seconds = embed(tuned)
                cell = cells.setdefault((n, name), Cell())
                cell.accuracy.append(score(pool_vectors, test_vectors, labeled))
                cell.tune.append(tune_seconds)
                cell.embed.append(embed_seconds)
                line.append(f"{name} {cell.accuracy[-1]:.3f} ({tune_seconds:.1f} s + {embed_seconds:.1f} s)")
                del tuned
            print("; ".join(line), flush=True)
    load_after = harness.load_average()

    names = ["frozen"] + [name for name, _ in configs]
    acc_rows, time_rows = [], []
    for n in sizes:
        acc_rows.append(
            f"| {n} | "
            + " | ".join(f"{mean_sd(cells[(n, name)].accuracy)} ({harness.runs(cells[(n, name)].accuracy, 3)})" for name in names)
            + " |"
        )
        for name, _ in configs:
            c = cells[(n, name)]
            total = [t + e for t, e in zip(c.tune, c.embed)]
            time_rows.append(
                f"| {n} | {name} | {harness.median(c.tune):.1f} ({harness.runs(c.tune, 1)}) "
                f"| {harness.median(c.embed):.1f} | **{harness.median(total):.1f}** |"
            )
    chosen = TuneSettings()
    chosen_name = f"{chosen.method}:{chosen.learning_rate:g}:{chosen.epochs}"
    largest = sizes[-1]
    glance: dict[str, tuple[str, str]] = {}
    best = max((name for name, _ in configs), key=lambda name: statistics.fmean(cells[(largest, name)].accuracy))
    shown = chosen_name if (largest, chosen_name) in cells else best
    c, f = cells[(largest, shown)], cells[(largest, "frozen")]
    glance[f"Text encoder fine-tuning ({shown}), {largest} TREC labels"] = (
        f"{statistics.fmean(c.accuracy):.3f} test accuracy; {harness.median(c.tune):.0f} s tuning + "
        f"{harness.median(c.embed):.0f} s re-embedding 5,000 texts",
        f"+{statistics.fmean(c.accuracy) - statistics.fmean(f.accuracy):.3f} over the frozen encoder "
        f"({statistics.fmean(f.accuracy):.3f})",
    )
    body = f"""Command: `{harness.command()}`  
Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  
{harness.machine_summary()}; torch {torch.__version__}, {args.threads} torch threads; aldesk at {harness.code_revision()}  
Load average (1, 5, 15 min) before: {load_before}; after: {load_after}.

Data: {source} ({n_classes} classes; the frozen encoder with every pool label scores {ceiling:.3f}). Each labeled
set is a uniform random sample of the pool (seeds 0..{args.seeds - 1}, the same sets for every column). Every column
is scored the same way: the pool and the test split embedded with that column's encoder, the pool's whitening, the
plain head (`fit_linear`) on the labeled texts' vectors, accuracy on the test split. Tuning: batch {args.batch_size},
texts cut to {args.max_tokens} tokens while tuning, AdamW (weight decay 0.01, 10% warm-up then a linear fall),
gradient norm clipped at 1; configs are `method:learning rate:epochs`.

**Test accuracy** (mean ± sd over the seeds (every seed))

| labels | {" | ".join(names)} |
|---|{"---|" * len(names)}
{chr(10).join(acc_rows)}

**Seconds** (median (every run); re-embedding: pool + test split, given per {PER:,} texts; the frozen encoder took
{frozen_embed:.1f} s per {PER:,} texts)

| labels | config | tuning | re-embedding {PER:,} | tuning + re-embedding |
|---|---|---|---|---|
{chr(10).join(time_rows)}

Goal: fine-tune and re-embed a 5,000-text pool within {GOAL:.0f} s on 2 cores. Chosen (the default
`TuneSettings()` of `aldesk/ml/encoders/tuning.py`): `{chosen_name}`, batch {chosen.batch_size}, {chosen.max_tokens} tokens.
"""
    print(body)
    if args.write_docs:
        harness.write_section(TITLE, body, rows=glance)


if __name__ == "__main__":
    main()
