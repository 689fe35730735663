"""Peak memory of the model export's reconstruction (the part that reads the embeddings).

    PYTHONPATH=. python benchmarks/bench_model_export.py PROJECT --write-docs

``model_bundle.reconstruct`` rebuilds the latest model's head from the stored embeddings and
checks it against every stored prediction; it is what ``aldesk export --what model`` does
before loading the backbone. Each variant runs in its own child process (peak RSS from
``resource.getrusage``, the child's high-water mark), the project opened read-only:

- streamed: the export as it is (pools above ``model_bundle.STREAM_FROM`` items read chunk by chunk);
- all at once: ``STREAM_FROM`` raised above the pool size, i.e. the previous behaviour
  (``vectors.load_embeddings`` of every vector), as the same-run baseline.

The backbone itself is not loaded (the 1M benchmark project's embeddings are synthetic, so the
export would stop at the backbone identity check; the backbone's memory does not grow with the
pool). The project needs a trained model (``aldesk train PROJECT`` on a copy). With --smoke and no
PROJECT it trains a copy of the small smoke project of bench_scale_data.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from benchmarks import harness
from benchmarks.bench_scale_data import SMOKE_ITEMS, SMOKE_LABELS_PER_CLASS, ensure_scale_project

ROOT = harness.ROOT
TITLE = "Model export at a million items"

CHILD = """
import json, resource, sys, time
from aldesk.core.store import open_project
from aldesk.ml.bundle import rebuild as model_bundle
if sys.argv[2] == "all":
    model_bundle.STREAM_FROM = 10 ** 12
elif len(sys.argv) > 3:  # --stream-from: streamed at a smaller size (smoke runs)
    model_bundle.STREAM_FROM = int(sys.argv[3])
imports_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
project = open_project(sys.argv[1], write=False)
start = time.perf_counter()
rec = model_bundle.reconstruct(project)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "imports_kib": imports_kib,
                  "items": len(rec.item_ids), "max_diff": rec.max_diff, "kind": rec.head.kind}))
"""


def run(project: str, variant: str, stream_from: int | None = None) -> dict:
    extra = [str(stream_from)] if stream_from is not None else []
    out = subprocess.run(
        [sys.executable, "-c", CHILD, project, variant, *extra],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def trained_smoke_project() -> str:
    """A copy of the smoke-sized scale project after ``aldesk train`` (its images stay behind:
    neither training nor the reconstruction reads them)."""
    from aldesk.cli import main as aldesk  # in this process: a smoke run need not pay a second start-up

    copy = harness.scratch("model-export") / "export.aldesk"
    shutil.copy(ensure_scale_project(SMOKE_ITEMS, labels_per_class=SMOKE_LABELS_PER_CLASS), copy)
    if aldesk(["train", str(copy)]) != 0:
        raise SystemExit(f"aldesk train {copy} failed")
    return str(copy)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("project", nargs="?", help="a copy of the 1M benchmark project after aldesk train")
    parser.add_argument(
        "--stream-from",
        type=int,
        default=None,
        help="stream the vectors from this many items (default: model_bundle.STREAM_FROM)",
    )
    args = harness.parse(parser, smoke={"stream_from": 100})
    if args.project is None:
        if not args.smoke:
            parser.error("PROJECT is required")
        args.project = trained_smoke_project()
    results = {variant: run(args.project, variant, args.stream_from) for variant in ("streamed", "all")}
    rows = [
        "| variant | peak RSS | of which imports (torch, aldesk) | seconds | max diff vs stored |",
        "| --- | --- | --- | --- | --- |",
    ]
    for variant, label in (("streamed", "streamed (now)"), ("all", "all vectors at once (before)")):
        r = results[variant]
        rows.append(
            f"| {label} | {r['peak_kib'] / 1024**2:.2f} GiB | {r['imports_kib'] / 1024**2:.2f} GiB "
            f"| {r['seconds']:.1f} | {r['max_diff']:.2g} |"
        )
    print("\n".join(rows))
    if args.write_docs:
        r, before = results["streamed"], results["all"]
        command = "PYTHONPATH=. python benchmarks/bench_model_export.py PROJECT --write-docs"
        body = (
            f"`{command}` on a copy of the "
            f"1M benchmark project (benchmarks/bench_scale_data.py) after `aldesk train` ({r['items']:,} items, "
            f"{r['kind']} head). {harness.machine_summary()}. `model_bundle.reconstruct` (what `aldesk export "
            f"--what model` does before loading the backbone) in a child process each, peak RSS of "
            f"the child, same run.\n\n" + "\n".join(rows)
        )
        harness.write_section(
            TITLE,
            body,
            command_line=command,
            rows={
                f"Model export, {r['items']:,} items: peak RSS of the reconstruction": (
                    f"{r['peak_kib'] / 1024**2:.2f} GiB streamed",
                    f"{harness.ratio(r['peak_kib'], before['peak_kib']):.2f} of all vectors at once "
                    f"({before['peak_kib'] / 1024**2:.2f} GiB)",
                )
            },
        )


if __name__ == "__main__":
    main()
