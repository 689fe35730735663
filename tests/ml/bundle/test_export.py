"""The model bundle: the exported program reproduces the app's predictions from the images."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from aldesk.core.model_store import load_predictions
from aldesk.core.store import create_project
from aldesk.ml.encoders import load_backbone
from aldesk.ml.encoders.lite0 import package_weights
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.bundle import export_model, input_tensor, model_card
from aldesk.ml.loop.embedding import embed_project
from aldesk.ml.loop.snapshot import take_snapshot
from aldesk.ml.loop.store import save_training
from tests.conftest import train_round

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 40, 220)]


def _trained_project(project, tmp_path, backbone_name: str, head: str, n_images: int = 45):
    """Noisy colour images of three classes (a fourth class without labels), embedded, trained
    and stored as the app does; returns (backbone, the app's float32 predictions, model version)."""
    add_classes(project, ["red", "green", "blue", "never labeled"])
    rng = np.random.default_rng(0)
    for i in range(n_images):
        pixels = np.clip(np.array(COLOURS[i % 3]) + rng.normal(0, 60, size=(20, 15, 3)), 0, 255)
        path = tmp_path / "imgs" / f"{i:03}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8)).save(path)
    import_paths(project, [tmp_path / "imgs"])
    backbone = load_backbone(backbone_name, device="cpu")
    embed_project(project, backbone)
    for item in range(1, 13):
        record(project, item, "label", (item - 1) % 3 + 1)
    snapshot = take_snapshot(project)
    result = train_round(snapshot, PoolModel.build(snapshot.vectors), head=head)
    version = save_training(project, snapshot, result)
    return backbone, result.probs, version


def _program_on_project_images(project, backbone, bundle):
    program = torch.export.load(str(bundle / "model.pt2")).module()
    paths = [project.resolve(p) for (p,) in project.conn.execute("SELECT path FROM items ORDER BY id")]
    with torch.no_grad():
        return program(torch.stack([input_tensor(backbone, p) for p in paths])).numpy()


@pytest.fixture(scope="module", params=["default", "plain"])
def exported(request, tmp_path_factory):
    """A trained pixels project (app head or plain head) and its bundle, made once per head."""
    tmp_path = tmp_path_factory.mktemp(f"bundle-{request.param}")
    project = create_project(tmp_path / "p.aldesk")
    backbone, app_probs, version = _trained_project(project, tmp_path, "pixels", request.param)
    report = export_model(project, tmp_path / "bundle")
    yield project, backbone, app_probs, version, report, tmp_path / "bundle"
    project.close()


def test_the_program_reproduces_the_apps_predictions(exported):
    project, backbone, app_probs, version, report, bundle = exported
    assert not report.cancelled and report.written == 4
    probs = _program_on_project_images(project, backbone, bundle)
    assert np.abs(probs - app_probs).max() <= 1e-4  # the app's float32 predictions
    _, stored = load_predictions(project, version)
    step = np.spacing(stored.astype(np.float16)).astype(np.float32)
    assert np.all(np.abs(probs - stored) <= step)  # the stored float16 copies, to their rounding
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and np.all(probs[:, 3] == 0)  # unlabeled class: 0


def test_bundle_files_describe_classes_preprocessing_and_labels(exported):
    *_, bundle = exported
    assert json.loads((bundle / "classes.json").read_text()) == ["red", "green", "blue", "never labeled"]
    spec = json.loads((bundle / "bundle.json").read_text())
    assert spec["input"]["shape"] == ["B", 3, 32, 32]
    assert spec["input"]["normalisation_inside_program"]["mean"] == [0.5, 0.5, 0.5]
    assert spec["classes_without_labels"] == ["never labeled"]
    assert spec["verified"]["pool_items"] == 45 and spec["verified"]["images"] == 8
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "| red | 4 |" in card and "| never labeled | 0 |" in card
    assert "Estimated accuracy: not estimated yet" in card and "Backbone: pixels" in card
    program = torch.export.load(str(bundle / "model.pt2")).module()
    with torch.no_grad():
        assert program(torch.rand(1, 3, 32, 32)).shape == (1, 4)  # any batch size, even 1


def test_a_model_that_cannot_be_rebuilt_exactly_is_refused(project, tmp_path):
    _trained_project(project, tmp_path, "pixels", "plain")
    with project.transaction() as conn:  # stored predictions no longer match the stored head
        conn.execute("UPDATE prediction_chunks SET probs = zeroblob(length(probs))")
    with pytest.raises(AldeskError, match="Cannot rebuild model 1 exactly"):
        export_model(project, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_no_model_says_what_to_do(project, tmp_path):
    with pytest.raises(AldeskError, match="no trained model yet.*aldesk train"):
        export_model(project, tmp_path / "bundle")


def test_cancel_writes_nothing(project, tmp_path):
    _trained_project(project, tmp_path, "pixels", "plain")
    steps = []
    report = export_model(
        project, tmp_path / "bundle", progress=lambda d, t: steps.append((d, t)), cancel=lambda: len(steps) >= 3
    )
    assert report.cancelled and not (tmp_path / "bundle").exists()
    assert steps[0] == (0, 5)


@pytest.mark.skipif(package_weights() is None, reason="EfficientNet-Lite0 weights are not installed")
def test_lite0_program_reproduces_the_apps_predictions(project, tmp_path):
    backbone, app_probs, _ = _trained_project(project, tmp_path, "efficientnet-lite0", "default", n_images=15)
    export_model(project, tmp_path / "bundle")
    probs = _program_on_project_images(project, backbone, tmp_path / "bundle")
    assert np.abs(probs - app_probs).max() <= 1e-4


def test_the_card_shows_the_estimated_accuracy_when_there_is_one(exported):
    project, *_, bundle = exported
    spec = json.loads((bundle / "bundle.json").read_text())
    estimate = {"value": 0.8, "low": 0.7, "high": 0.88, "audit_labels": 40}
    metrics = json.loads(project.conn.execute("SELECT metrics FROM models WHERE version = 1").fetchone()[0])
    with project.transaction() as conn:
        conn.execute("UPDATE models SET metrics = ? WHERE version = 1", (json.dumps({**metrics, "estimate": estimate}),))
    try:
        assert "Estimated accuracy: 80.0% (interval 70.0–88.0%, from 40 randomly drawn audit labels)" in model_card(project, spec)
    finally:
        with project.transaction() as conn:
            conn.execute("UPDATE models SET metrics = ? WHERE version = 1", (json.dumps(metrics),))


@pytest.mark.parametrize("head", ["default", "plain"])  # pixels: default = the cnn head, plain = linear
def test_large_pools_are_read_chunk_by_chunk_and_rebuild_the_same_head(project, tmp_path, monkeypatch, head):
    from aldesk.core import vectors
    from aldesk.ml import features
    from aldesk.ml.bundle import rebuild as model_bundle

    # A whitening sample smaller than the pool, as at 1M items, for the app's training and the export.
    monkeypatch.setattr(features, "FIT_SAMPLE", 20)
    monkeypatch.setattr(model_bundle, "FIT_SAMPLE", 20)
    _trained_project(project, tmp_path, "pixels", head)
    whole = model_bundle.reconstruct(project)
    monkeypatch.setattr(model_bundle, "STREAM_FROM", 0)
    monkeypatch.setattr(model_bundle, "PREDICT_ROWS", 7)  # several prediction batches

    def refuse(*_args):
        raise AssertionError("the export loaded every vector at once")

    monkeypatch.setattr(vectors, "load_embeddings", refuse)
    streamed = model_bundle.reconstruct(project)
    assert streamed.head.kind == whole.head.kind
    for (name, a), (_, b) in zip(whole.head.module.state_dict().items(), streamed.head.module.state_dict().items()):
        assert torch.equal(a, b), name
    assert np.abs(streamed.head.app_probs - whole.head.app_probs).max() <= 1e-6
    report = export_model(project, tmp_path / "bundle")
    assert not report.cancelled and (tmp_path / "bundle" / "model.pt2").exists()
