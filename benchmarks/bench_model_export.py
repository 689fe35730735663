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
pool). The project needs a trained model (``aldesk train PROJECT`` on a copy).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
from aldesk.core.store import open_project
from aldesk.ml import model_bundle
if sys.argv[2] == "all":
    model_bundle.STREAM_FROM = 10 ** 12
imports_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
project = open_project(sys.argv[1], write=False)
start = time.perf_counter()
rec = model_bundle.reconstruct(project)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "imports_kib": imports_kib,
                  "items": len(rec.item_ids), "max_diff": rec.max_diff, "kind": rec.head.kind}))
"""


def run(project: str, variant: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, project, variant], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    results = {variant: run(args.project, variant) for variant in ("streamed", "all")}
    rows = ["| variant | peak RSS | of which imports (torch, aldesk) | seconds | max diff vs stored |",
            "| --- | --- | --- | --- | --- |"]
    for variant, label in (("streamed", "streamed (now)"), ("all", "all vectors at once (before)")):
        r = results[variant]
        rows.append(f"| {label} | {r['peak_kib'] / 1024 ** 2:.2f} GiB | {r['imports_kib'] / 1024 ** 2:.2f} GiB "
                    f"| {r['seconds']:.1f} | {r['max_diff']:.2g} |")
    print("\n".join(rows))
    if args.write_docs:
        from benchmarks.docs import keep_open_problems_last, machine_summary, replace_section

        r = results["streamed"]
        body = (
            f"`PYTHONPATH=. python benchmarks/bench_model_export.py PROJECT --write-docs` on a copy of the "
            f"1M benchmark project (benchmarks/bench_scale_data.py) after `aldesk train` ({r['items']:,} items, "
            f"{r['kind']} head). {machine_summary()}. `model_bundle.reconstruct` (what `aldesk export "
            f"--what model` does before loading the backbone) in a child process each, peak RSS of "
            f"the child, same run.\n\n" + "\n".join(rows)
        )
        replace_section("Model export at a million items", body)
        keep_open_problems_last()


if __name__ == "__main__":
    main()
