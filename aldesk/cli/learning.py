"""The learning-engine verbs of ``aldesk``: embed, train, query, simulate, weights.

torch is imported only when one of these runs, so the core verbs stay quick to start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aldesk.core.errors import AldeskError
from aldesk.core.kinds import kind_of
from aldesk.core.store import open_project
from aldesk.cli.progress import StageProgress, TerminalProgress

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from aldesk.core.store import Project
    from aldesk.ml.encoders import Backbone, Encoder
    from aldesk.ml.simulation.text_tuning import SimulatedTuning


def add_ml_commands(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    embed = verbs.add_parser("embed", help="compute embeddings for every item (resumable)")
    embed.add_argument("project", type=Path)
    _backbone_options(embed)
    embed.add_argument("--batch-size", type=int, default=None)
    from aldesk.cli.cluster import add_cluster_options

    add_cluster_options(embed)
    embed.set_defaults(run=cmd_embed)

    train = verbs.add_parser("train", help="train a model version and store its predictions")
    train.add_argument("project", type=Path)
    train.add_argument(
        "--head",
        default="default",
        choices=("default", "plain", "cnn"),
        help="default: the app's head (on the pixels backbone: cnn, a small CNN trained from scratch)",
    )
    train.set_defaults(run=cmd_train)

    query = verbs.add_parser("query", help="print the next items to label")
    query.add_argument("project", type=Path)
    query.add_argument("-n", type=int, default=20, help="how many items (default 20)")
    query.add_argument("--strategy", default="default")
    query.add_argument("--seed", type=int, default=None, help="fix the random choices (for scripts)")
    query.add_argument("--json", action="store_true")
    query.add_argument(
        "--store", action="store_true", help="also store them as the project's queue (needs the project not open elsewhere)"
    )
    query.set_defaults(run=cmd_query)

    sim = verbs.add_parser("simulate", help="replay labeling with known labels; learning curves")
    sim.add_argument(
        "--dataset",
        required=True,
        help="fashion-mnist, digits, a folder of class folders (images or .txt files), or a CSV/TSV/JSONL table of texts "
        "with text and label columns",
    )
    sim.add_argument(
        "--test", default=None, metavar="PATH", help="a held-out set of the same form to score on (default: 20%% of the data set)"
    )
    _backbone_options(sim)
    sim.add_argument(
        "--head",
        default="default",
        choices=("default", "plain", "cnn"),
        help="default: the app's head (on the pixels backbone: cnn, a small CNN trained from scratch)",
    )
    sim.add_argument(
        "--strategies",
        default="default,margin,random",
        help="comma-separated query strategies to compare (default: %(default)s; default is the app's own policy, "
        "random the baseline)",
    )
    sim.add_argument(
        "--seeds", type=int, default=5, help="runs per strategy, each with its own random start (default: %(default)s)"
    )
    sim.add_argument("--budget", type=int, default=600, help="labels to simulate up to (default: %(default)s)")
    sim.add_argument("--batch", type=int, default=10, help="labels per round (default: %(default)s)")
    sim.add_argument("--pool-size", type=int, default=None, help="sub-sample the pool (fashion-mnist: 10000)")
    sim.add_argument("--test-size", type=int, default=None, help="sub-sample the test split")
    sim.add_argument("--out", type=Path, required=True)
    sim.add_argument(
        "--frozen",
        action="store_true",
        help="texts: keep the encoder as pretrained (faster); by default the encoder is fine-tuned on the labels "
        "as the app does once enough are in",
    )
    sim.add_argument("--json", action="store_true", help="print the result as JSON")
    sim.set_defaults(run=cmd_simulate)

    weights = verbs.add_parser("weights", help="list backbones and their weights, or fetch weights")
    weights.add_argument("action", choices=("list", "fetch"))
    weights.add_argument("name", nargs="?")
    weights.set_defaults(run=cmd_weights)

    from aldesk.cli.suspects import add_suspects_command

    add_suspects_command(verbs)


def _backbone_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", default=None, help="backbone name (see: aldesk weights list)")
    parser.add_argument("--weights", type=Path, default=None, help="a weights file for the backbone")
    parser.add_argument(
        "--device",
        default=None,
        metavar="{auto,cpu,cuda,cuda:N,mps}",
        help="where the backbone runs (default: ALDESK_DEVICE, else auto: CUDA, MPS, CPU)",
    )


def _load_backbone(args: argparse.Namespace) -> Backbone:
    """An image backbone (the cluster engine embeds images only)."""
    from aldesk.ml.encoders import load_backbone
    from aldesk.ml.device import configure_cpu_threads, describe_device

    configure_cpu_threads()
    backbone = load_backbone(args.backbone, weights=args.weights, device=args.device)
    print(
        f"backbone: {backbone.spec.name} ({backbone.spec.dim}-d) on {describe_device(backbone.device)}, {backbone.runtime}",
        file=sys.stderr,
    )
    return backbone


def _load_encoder(args: argparse.Namespace, kind: str) -> Encoder:
    """The encoder for items of ``kind``: --backbone, else that kind's default."""
    from aldesk.ml.encoders import load_encoder
    from aldesk.ml.device import configure_cpu_threads, describe_device

    configure_cpu_threads()
    encoder = load_encoder(args.backbone, weights=args.weights, device=args.device, kind=kind)
    what = "backbone" if kind == "image" else "encoder"
    where = f"{describe_device(encoder.device)}, {encoder.runtime}"
    print(f"{what}: {encoder.spec.name} ({encoder.spec.dim}-d) on {where}", file=sys.stderr)
    return encoder


def cmd_embed(args: argparse.Namespace) -> int:
    from aldesk.cli.cluster import cmd_cluster_embed, wants_cluster

    if wants_cluster(args):  # --engine dask or --ingest-shards (docs/cluster.md)
        return cmd_cluster_embed(args, _load_backbone)
    from aldesk.ml.loop.embedding import embed_project

    with open_project(args.project) as project:
        backbone = _load_encoder(args, kind_of(project).name)
        text = kind_of(project).name == "text"
        if text:
            backbone = _encoder_in_use(project, backbone)
        report = embed_project(project, backbone, batch_size=args.batch_size, progress=TerminalProgress("embedding"))
        if text and not report.cancelled:
            _use_these_vectors(project, backbone)
    print(f"embedded {report.embedded}, already embedded {report.already}, failed {len(report.failed)}")
    for path, reason in report.failed:
        print(f"failed {path}: {reason}")
    return 0


def _encoder_in_use(project: Project, encoder: Encoder) -> Encoder:
    """The encoder fine-tuned on the labels when the app adopted one (new items must join its
    vectors); the pretrained one again, said, when its stored weights are damaged."""
    from aldesk.core.tuned_encoders import go_back_to_pretrained
    from aldesk.ml.loop.encoder_tuning import encoder_in_use

    in_use, problem = encoder_in_use(project, encoder)
    if problem:
        print(problem, file=sys.stderr)
        go_back_to_pretrained(project)
    elif in_use is not encoder:
        print(f"encoder: the project's {encoder.spec.name} fine-tuned on its labels ({in_use.identity})", file=sys.stderr)
    return in_use


def _use_these_vectors(project: Project, encoder: Encoder) -> None:
    """A text project names the vectors in use (once a tuning began): embedding with another
    encoder (--weights FOLDER) is the person's choice of it, so the rounds read its vectors now."""
    from aldesk.core.tuned_encoders import ACTIVE_KEY, active_set

    in_use = active_set(project)
    if project.meta(ACTIVE_KEY) and in_use is not None and in_use.identity != encoder.identity:
        project.set_meta(ACTIVE_KEY, encoder.identity)
        print(f"the project now uses these vectors ({encoder.identity}) instead of {in_use.identity}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from aldesk.ml.device import configure_cpu_threads, describe_device
    from aldesk.ml.heads.base import require_two_classes
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import take_snapshot
    from aldesk.ml.loop.store import save_training

    configure_cpu_threads()  # as the app's worker does
    with open_project(args.project) as project:
        snapshot = take_snapshot(project, load_vectors=False, with_predictions=True)
        require_two_classes(snapshot.y)
        pool = build_pool(project, snapshot)  # streamed from the file on large pools
        settings = RoundSettings(head=args.head, queue_length=0, evaluate=True)
        result = run_round(snapshot, pool, settings, progress=StageProgress())
        # Not cancellable here, and two classes have labels (checked above): the round trained.
        assert result is not None and result.train is not None
        version = save_training(project, snapshot, result.train)
    metrics = result.metrics
    estimate = metrics["estimate"]
    print(
        f"model version {version}: {metrics['head']} head on {snapshot.backbone} embeddings, "
        f"{metrics['n_labels']} labels in {metrics['classes_with_labels']} of {len(snapshot.class_ids)} classes, "
        f"trained on {describe_device(pool.device)}"
    )
    if estimate["value"] is None:
        print(f"accuracy not estimated yet: {estimate['audit_labels']} audit labels, 10 needed")
    else:
        print(
            f"estimated accuracy {estimate['value']:.1%} (90% interval {estimate['low']:.1%} to "
            f"{estimate['high']:.1%}, from {estimate['audit_labels']} audit labels)"
        )
    if metrics["classes_with_labels"] < len(snapshot.class_ids):
        print("classes without labels get no predictions until they have some")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from aldesk.core.captions import captions, texts_for_output
    from aldesk.core.classes import list_classes
    from aldesk.core.items import all_paths
    from aldesk.core.queue import replace_queue
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import take_snapshot

    if args.n < 1:
        raise AldeskError("-n must be at least 1.")
    # Read-only unless --store: then it works while the window has the project open.
    with open_project(args.project, write=args.store) as project:
        snapshot = take_snapshot(project, load_vectors=False)
        pool = build_pool(project, snapshot)  # streamed from the file on large pools
        # No training: the queue comes from the latest stored model (aldesk train makes one).
        settings = RoundSettings(strategy=args.strategy, cold_start=None, queue_length=args.n, train=False, seed=args.seed)
        result = run_round(snapshot, pool, settings)
        assert result is not None  # a round that cannot be cancelled always ends with a result
        queue, probs = result.queue, result.probs
        if args.store:
            replace_queue(project, queue)
        names = {c.id: c.name for c in list_classes(project)}
        paths = all_paths(project)
        queued = [entry.item_id for entry in queue]
        shown, texts = captions(project, queued), texts_for_output(project, queued)
        index_of = {int(item): pos for pos, item in enumerate(snapshot.item_ids)}
        rows = []
        for entry in queue:
            row = {
                "id": entry.item_id,
                "path": str(project.resolve(paths[entry.item_id])),
                **({"text": texts[entry.item_id]} if texts else {}),
                "predicted": None,
                "confidence": None,
                "score": entry.score,
                "rank": entry.rank,
                "strategy": entry.strategy,
                "model_version": entry.model_version,
            }
            if probs is not None:
                p = probs[index_of[entry.item_id]]
                row["predicted"] = names[snapshot.class_ids[int(p.argmax())]]
                row["confidence"] = float(p.max())
            rows.append(row)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(_query_line("rank", "id", "guess (p)", "chosen by", "score", "item"))
        for entry, row in zip(queue, rows):
            guess = f"{row['predicted']} ({row['confidence']:.2f})" if row["predicted"] else "-"
            print(_query_line(row["rank"], row["id"], guess, str(row["strategy"]), f"{row['score']:.4f}", shown[entry.item_id]))
    return 0


def _query_line(rank: object, item_id: object, guess: str, strategy: str, score: str, shown: str) -> str:
    """One row of ``aldesk query``'s table (the header goes through here too, so columns align)."""
    return f"{rank!s:>4}  {item_id!s:>7}  {guess:<24} {strategy:<10} {score:>7}  {shown}"


def cmd_simulate(args: argparse.Namespace) -> int:
    from aldesk.ml.heads.base import get_head
    from aldesk.ml.simulation.report import embedded_dataset, write_report
    from aldesk.ml.simulation.datasets import dataset_kind
    from aldesk.ml.simulation.replay import simulate
    from aldesk.ml.strategies import get_strategy

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    for name in strategies:
        get_strategy(name)  # unknown names fail before any slow work
    if args.budget < args.batch or args.batch < 1:
        raise AldeskError("--budget must be at least --batch, and --batch at least 1.")
    pool_size = args.pool_size if args.pool_size is not None else (10_000 if args.dataset == "fashion-mnist" else None)
    backbone = _load_encoder(args, dataset_kind(args.dataset))
    xp, yp, xt, yt, class_names = embedded_dataset(
        args.dataset,
        backbone,
        pool_size=pool_size,
        test_size=args.test_size,
        test=args.test,
        progress=TerminalProgress("embedding the data set"),
        on_skip=lambda line: print(line, file=sys.stderr),
    )
    bar = TerminalProgress("simulating")
    head = get_head(args.head, backbone.spec.name).name  # what the app would train on this backbone
    tuning = None
    if dataset_kind(args.dataset) == "text" and not args.frozen:
        tuning = _simulated_tuning(args, backbone, pool_size, xp, xt, len(class_names))
    result = simulate(
        xp,
        yp,
        xt,
        yt,
        len(class_names),
        strategies=strategies,
        seeds=args.seeds,
        budget=args.budget,
        batch=args.batch,
        head=head,
        progress=lambda _s, d, t: bar(d, t),
        tuning=tuning,
    )
    title = f"{Path(args.dataset).name}, {backbone.spec.name}{', fine-tuned as the app does' if tuning else ''}, head {head}"
    written = write_report(result, args.out, title)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print((args.out / "summary.md").read_text())
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _simulated_tuning(
    args: argparse.Namespace, encoder: Encoder, pool_size: int | None, xp: np.ndarray, xt: np.ndarray, n_classes: int
) -> Callable[[str], SimulatedTuning] | None:
    """For each run, the app's fine-tuning replayed on the data set's texts (gated by the audits
    where the strategy draws them, as the app's default does)."""
    from aldesk.ml.simulation.datasets import load_dataset
    from aldesk.ml.simulation.text_tuning import SimulatedTuning  # noqa: F811 - the runtime import of the hinted name

    data = load_dataset(args.dataset, pool_size=pool_size, test_size=args.test_size, test=args.test)
    pool_texts = [str(load()) for load in data.train_images]
    test_texts = [str(load()) for load in data.test_images]
    if (len(pool_texts), len(test_texts)) != (len(xp), len(xt)):  # texts were skipped: rows no longer line up
        print("the encoder is kept frozen: some texts could not be embedded (see above)", file=sys.stderr)
        return None
    return lambda strategy: SimulatedTuning(encoder, pool_texts, test_texts, xp, xt, n_classes, gated=strategy == "default")


def cmd_weights(args: argparse.Namespace) -> int:
    from aldesk.ml.encoders import fetch_weights, get_spec, list_backbones

    if args.action == "fetch":
        if not args.name:
            raise AldeskError("Name the backbone whose weights to fetch, e.g. aldesk weights fetch resnet18")
        get_spec(args.name)
        print(f"saved {fetch_weights(args.name)}")
        return 0
    for spec in list_backbones():
        status = spec.weights_status()
        where = (status.source or "built in") if status.available else f"missing: {status.hint}"
        print(f"{spec.name:<20} {spec.dim:>5}-d  {where}")
    return 0
