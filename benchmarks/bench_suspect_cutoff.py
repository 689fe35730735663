"""Which labels to list as suspects at all: precision and recall of a cut-off on simulated noise.

    PYTHONPATH=. python benchmarks/bench_suspect_cutoff.py [--seeds 5] [--sizes 100,300,1000] [--write-docs]

The suspects ranking scores every labeled item; listing them all (the demo said "141 suspects"
at 141 labels) buries the few wrong labels. A cut-off keeps only items the held-out heads really
doubt. Same protocol as bench_suspects.py: the Lite0 embeddings ``aldesk simulate`` caches
(digits; Fashion-MNIST when its Debian package is installed), a uniformly random labeled set
per seed with 5% of its labels flipped to another random class; the ranking sees only the noisy
labels. Both data sets have K = 10 classes. For each rule: how many labels it lists (share of all), precision (share of the listed
that are really flipped; chance = the flip rate) and recall (share of the flipped it lists).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from aldesk.core.suspects_store import doubt_cutoff
from aldesk.ml.evaluation.suspects import SuspectRanking, rank_suspects
from aldesk.ml.loop.pool import PoolModel
from benchmarks import harness
from benchmarks.bench_suspects import cached_pools, flip_labels

SECTION = "Which suspects to list: the cut-off"
RATE = 0.05
RULES: dict[str, Callable[[SuspectRanking, int], np.ndarray]] = {
    "every scored label (before)": lambda r, k: np.ones(len(r), dtype=bool),
    "p_given < 0.5": lambda r, k: r.p_given < 0.5,
    "p_given < 0.2": lambda r, k: r.p_given < 0.2,
    "**p_given < 1/K: the app's cut-off (doubt_cutoff)**": lambda r, k: r.p_given < doubt_cutoff(k),
    "p_given < 0.05": lambda r, k: r.p_given < 0.05,
}


def one_run(pool: PoolModel, y_pool: np.ndarray, n_labels: int, seed: int) -> dict[str, tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    n_classes = int(y_pool.max()) + 1
    labeled = np.sort(rng.choice(len(y_pool), n_labels, replace=False))
    noisy, flipped = flip_labels(y_pool[labeled], n_classes, RATE, rng)
    ranking = rank_suspects(pool.z, labeled, noisy, n_classes, seed=seed)
    is_flipped = np.zeros(n_labels, dtype=bool)
    is_flipped[flipped] = True
    hits = is_flipped[ranking.positions]
    out = {}
    for name, rule in RULES.items():
        listed = rule(ranking, n_classes)
        n_listed = int(listed.sum())
        precision = float(hits[listed].mean()) if n_listed else float("nan")
        out[name] = (n_listed / n_labels, precision, float(hits[listed].sum() / max(len(flipped), 1)))
    return out


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", default="100,300,1000")
    args = harness.parse(parser, smoke={"seeds": 1, "sizes": "100"})
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        f"Command: `{harness.command()}`",
        "",
        f"{harness.machine_summary()}. {args.seeds} seeds, {RATE:.0%} of the labels flipped; mean over seeds "
        "(listed: share of the labels listed; precision: share of the listed that are flipped, chance "
        f"{RATE:.2f}; recall: share of the flipped that are listed).",
        "",
        "| data set | labels | rule | listed | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for name, pool, y in cached_pools(args.smoke):
        for n_labels in sizes:
            if n_labels > len(y):
                continue
            runs = [one_run(pool, y, n_labels, seed) for seed in range(args.seeds)]
            for rule in RULES:
                listed, precision, recall = (statistics.mean(r[rule][k] for r in runs) for k in range(3))
                lines.append(f"| {name} | {n_labels:,} | {rule} | {listed:.1%} | {precision:.2f} | {recall:.2f} |")
                print(lines[-1], flush=True)
    lines += [
        "",
        "Why 1/K (`aldesk/core/suspects_store.py` `doubt_cutoff`): below it the other labels believe the label less "
        "than a blind guess among the classes would, a reason a person can be told; the list shrinks from every label "
        "to about a tenth while keeping most flipped labels, and with two classes it is the natural rule (the other "
        "class is the likelier). A fixed 0.1 missed two plainly wrong labels of a 2-class project whose held-out "
        "probabilities were 0.12 and 0.17 (tests/cli/test_cli_suspects.py). Stricter cuts (0.05) are more precise "
        "but lose more of the flipped labels; what is listed beyond the flips are mostly items the heads find "
        "ambiguous, worth a second look too.",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        harness.write_section(SECTION, body)


if __name__ == "__main__":
    main()
