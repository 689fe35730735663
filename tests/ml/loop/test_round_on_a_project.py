"""The learning round on a real (small, generated) project: embed, train, query, resume."""

import numpy as np
import pytest

from aldesk.core import tuned_encoders, vectors
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from aldesk.core.model_store import latest_model, load_predictions
from aldesk.ml.encoders import load_backbone
from aldesk.ml.loop.embedding import embed_project
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.round import RoundSettings, run_round
from aldesk.ml.loop.snapshot import previous_predictions, take_snapshot
from aldesk.ml.loop.store import save_training
from tests.conftest import train_round

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 40, 220)]


@pytest.fixture
def colour_project(project, tmp_path):
    """Three classes of noisy solid-colour images: easy to learn from a few labels."""
    rng = np.random.default_rng(0)
    add_classes(project, ["red", "green", "blue"])
    for i in range(60):
        base = np.array(COLOURS[i % 3])
        pixels = np.clip(base + rng.normal(0, 25, size=(12, 12, 3)), 0, 255).astype(np.uint8)
        from PIL import Image

        path = tmp_path / "imgs" / f"{i:03}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(path)
    import_paths(project, [tmp_path / "imgs"])
    return project


def _truth(item_id: int) -> int:
    return (item_id - 1) % 3 + 1  # class ids 1..3 follow the colour order of the files


def test_embed_is_resumable_and_reports_missing_files(colour_project, tmp_path):
    backbone = load_backbone("pixels")
    calls = []
    report = embed_project(
        colour_project,
        backbone,
        cancel=lambda: bool(calls) and calls[-1] >= 24,
        progress=lambda d, t: calls.append(d),
        batch_size=8,
    )
    first = report.embedded
    assert report.cancelled and 0 < first < 60
    (tmp_path / "imgs" / "050.png").unlink()
    report = embed_project(colour_project, backbone, batch_size=8)
    assert report.already == first and report.embedded == 59 - first
    assert len(report.failed) == 1 and report.failed[0][0] == str(tmp_path / "imgs" / "050.png")
    assert "not found" in report.failed[0][1] or "missing" in report.failed[0][1]
    eset = tuned_encoders.active_set(colour_project)
    ids, vecs = vectors.load_embeddings(colour_project, eset)
    assert len(ids) == 59 and vecs.dtype == np.float16 and vecs.shape[1] == backbone.spec.dim


def test_train_query_and_store_predictions(colour_project):
    embed_project(colour_project, load_backbone("pixels"))
    snapshot = take_snapshot(colour_project)
    pool = PoolModel.build(snapshot.vectors)
    cold = run_round(snapshot, pool, RoundSettings(queue_length=5, seed=0))
    assert cold.train is None and cold.probs is None  # no labels: no model, a cold-start queue
    assert len(cold.queue) == 5 and cold.queue[0].strategy == "typical"
    for item in range(1, 13):
        record(colour_project, item, "label", _truth(item))
    snapshot = take_snapshot(colour_project)
    result = train_round(snapshot, pool)
    version = save_training(colour_project, snapshot, result)
    ids, probs = load_predictions(colour_project, version)
    predicted = np.array([snapshot.class_ids[k] for k in probs.argmax(1)])
    truth = np.array([_truth(int(i)) for i in ids])
    assert (predicted == truth).mean() > 0.9
    assert latest_model(colour_project).n_labels == 12
    queried = run_round(take_snapshot(colour_project), pool, RoundSettings(queue_length=5, train=False, seed=0))
    queue = queried.queue
    assert np.array_equal(queried.probs, result.probs)  # scored with the stored model, not retrained
    assert len(queue) == 5 and all(q.model_version == version for q in queue)
    assert all(q.item_id > 12 for q in queue)  # only unlabeled items are asked
    assert [q.rank for q in queue] == [1, 2, 3, 4, 5]


def test_snapshot_without_embeddings_says_what_to_run(colour_project):
    with pytest.raises(AldeskError, match="aldesk embed"):
        take_snapshot(colour_project)


def test_unknown_backbone_lists_the_names():
    with pytest.raises(AldeskError, match="efficientnet-lite0"):
        load_backbone("alexnet-9000")


def test_training_estimates_accuracy_from_audit_labels_only(colour_project):
    from aldesk.core.info import project_info
    from aldesk.core.labels import QueryContext

    embed_project(colour_project, load_backbone("pixels"))
    for item in range(1, 13):
        record(colour_project, item, "label", _truth(item), context=QueryContext(None, "margin"))
    for item in range(13, 25):
        record(colour_project, item, "label", _truth(item), context=QueryContext(None, "audit"))
    snapshot = take_snapshot(colour_project)
    assert snapshot.audit.sum() == 12 and len(snapshot.audit) == 24
    pool = PoolModel.build(snapshot.vectors)
    assert previous_predictions(colour_project, snapshot) is None
    first = train_round(snapshot, pool, evaluate=True)
    save_training(colour_project, snapshot, first)
    record(colour_project, 30, "label", _truth(30))
    snapshot = take_snapshot(colour_project, with_predictions=True)
    assert snapshot.previous_predicted is not None and len(snapshot.previous_predicted) == len(snapshot.item_ids)
    result = train_round(snapshot, pool, evaluate=True)
    save_training(colour_project, snapshot, result)
    estimate = project_info(colour_project)["estimated_accuracy"]
    assert estimate["audit_labels"] == 12 and estimate["value"] > 0.9  # noisy solid colours: easy
    assert estimate["low"] < estimate["value"] <= estimate["high"]
    assert result.metrics["kappa_previous"] > 0.9  # one more label hardly changes the predictions


def test_snapshot_leaves_labeled_skipped_and_unsure_items_out_of_the_eligible(colour_project):
    embed_project(colour_project, load_backbone("pixels"))
    record(colour_project, 1, "label", _truth(1))
    record(colour_project, 2, "skip")
    record(colour_project, 3, "unsure")
    record(colour_project, 4, "label", _truth(4))
    snapshot = take_snapshot(colour_project, load_vectors=False)
    out = snapshot.item_ids[~snapshot.eligible].tolist()
    assert out == [1, 2, 3, 4]
    assert snapshot.item_ids[snapshot.labeled].tolist() == [1, 4]
    assert len(snapshot.item_ids) == 60 and snapshot.eligible.sum() == 56


def test_embedding_stops_before_the_disk_has_no_room_left_for_labels(colour_project, monkeypatch):
    from aldesk.core import disk
    from aldesk.core.errors import DiskFullError

    backbone = load_backbone("pixels")
    free = [disk.LABEL_RESERVE_BYTES + 3000]  # room for a chunk or two, then the reserve

    def shrinking(_folder):
        free[0] -= 2000
        return free[0]

    monkeypatch.setattr(disk, "free_bytes", shrinking)
    with pytest.raises(DiskFullError, match="embedding stopped to keep room for labels"):
        embed_project(colour_project, backbone, batch_size=8)
    eset = tuned_encoders.active_set(colour_project)
    kept = len(vectors.embedded_ids(colour_project, eset.id))
    assert 0 <= kept < 60  # finished chunks stay; the run resumes later
    monkeypatch.undo()
    report = embed_project(colour_project, backbone, batch_size=8)
    assert report.already == kept and report.embedded == 60 - kept
