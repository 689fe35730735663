"""The controller stores a refresh result between key presses, never in the middle of one."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time

import pytest

from aldesk.core import labels, model_store, vectors
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.session import LabelingSession
from aldesk.core.store import create_project, open_project
from aldesk.gui.learning import controller as controller_mod
from aldesk.gui.learning import prediction_writer
from aldesk.gui.learning.controller import LearningController
from aldesk.ml.loop.jobs import JobRunner
from tests.conftest import distinct_colour, write_image


@pytest.fixture
def labeled_project(tmp_path):
    path = tmp_path / "c.aldesk"
    with create_project(path) as project:
        classes = add_classes(project, ["a", "b"])
        for i in range(16):
            write_image(tmp_path / "img" / f"{i:02}.png", distinct_colour(i * 40), size=(20, 16))
        import_paths(project, [tmp_path / "img"])
    runner = JobRunner(path, "pixels", lambda: False)
    chunks = []
    runner.run("embed", lambda kind, payload: chunks.append(payload) if kind == "chunk" else None)
    with open_project(path) as project:
        for chunk in chunks:
            eset = vectors.get_or_create_set(project, chunk.backbone, chunk.identity, chunk.dim)
            vectors.add_chunk(project, eset.id, chunk.item_ids, chunk.vectors)
        for item in range(1, 9):
            labels.record(project, item, "label", class_id=classes[item % 2].id, source="human")
    outcomes = []
    runner.run("refresh", lambda kind, payload: outcomes.append(payload) if kind == "refreshed" else None)
    assert outcomes and outcomes[0].train is not None
    return path, outcomes[0]


@pytest.fixture
def controller(qtbot, labeled_project):
    path, _ = labeled_project
    project = open_project(path)
    ctl = LearningController(project, LabelingSession(project), backbone="pixels", idle_seconds=3600)
    yield ctl
    ctl.shutdown()
    project.close()


def _models(path) -> int:
    with open_project(path, write=False) as project:
        return project.conn.execute("SELECT count(*) FROM models").fetchone()[0]


def test_a_result_arriving_right_after_a_press_waits_for_a_quiet_moment(qtbot, controller, labeled_project, monkeypatch):
    path, outcome = labeled_project
    monkeypatch.setattr(controller_mod, "QUIET_MS", 1_500)  # long enough for a loaded machine
    controller.label_recorded()
    controller._refresh_arrived(outcome)
    assert _models(path) == 0 and controller._waiting is outcome  # not stored during the press
    qtbot.waitUntil(lambda: _models(path) == 1, timeout=5_000)
    assert controller._waiting is None and controller.latest_predictions[0] >= 1


def test_a_waiting_result_is_stored_just_after_the_next_press(qtbot, controller, labeled_project, monkeypatch):
    path, outcome = labeled_project
    monkeypatch.setattr(controller_mod, "QUIET_MS", 60_000)  # only a press can let it through
    controller.label_recorded()
    controller._refresh_arrived(outcome)
    qtbot.wait(200)
    assert _models(path) == 0
    controller.label_recorded()
    qtbot.waitUntil(lambda: _models(path) == 1, timeout=5_000)


def test_with_no_recent_press_a_result_is_stored_at_once(qtbot, controller, labeled_project):
    path, outcome = labeled_project
    controller._last_press = time.monotonic() - 10
    controller._refresh_arrived(outcome)
    assert controller._writing is not None  # the predictions are being written by a thread
    qtbot.waitUntil(lambda: _models(path) == 1, timeout=5_000)
    assert controller._writing is None and controller.latest_predictions[0] == 1


def test_a_result_arriving_during_a_write_is_stored_after_it(qtbot, controller, labeled_project, monkeypatch):
    path, outcome = labeled_project
    gate = threading.Event()
    write = model_store.write_predictions
    monkeypatch.setattr(model_store, "write_predictions", lambda *a, **k: (gate.wait(5), write(*a, **k)))
    controller._last_press = time.monotonic() - 10
    controller._refresh_arrived(outcome)
    newer = dataclasses.replace(outcome, queue=outcome.queue[:3])
    controller._refresh_arrived(newer)
    qtbot.wait(100)
    assert _models(path) == 0 and controller._waiting is newer  # held back: one model at a time
    gate.set()
    qtbot.waitUntil(lambda: _models(path) == 2, timeout=5_000)
    with open_project(path, write=False) as project:
        assert [v for (v,) in project.conn.execute("SELECT version FROM models ORDER BY version")] == [1, 2]
        assert project.conn.execute("SELECT count(*), max(model_version) FROM queue").fetchone() == (3, 2)


def test_closing_during_a_write_finishes_it_and_adds_the_model(qtbot, controller, labeled_project, monkeypatch):
    path, outcome = labeled_project
    write = model_store.write_predictions
    monkeypatch.setattr(model_store, "write_predictions", lambda *a, **k: (time.sleep(0.3), write(*a, **k)))
    controller._last_press = time.monotonic() - 10
    controller._refresh_arrived(outcome)
    controller.shutdown()
    assert _models(path) == 1 and controller._writing is None


def _errors_storing(qtbot, controller, outcome) -> list[str]:
    """Store ``outcome`` at once (no recent press); the failed writes' messages, once there is one."""
    errors = []
    controller.write_failed.connect(lambda exc: errors.append(str(exc)))
    controller._last_press = time.monotonic() - 10
    controller._refresh_arrived(outcome)
    qtbot.waitUntil(lambda: bool(errors), timeout=5_000)
    return errors


def test_a_failed_write_is_reported_and_adds_no_model(qtbot, controller, labeled_project, monkeypatch):
    path, outcome = labeled_project

    def disk_full(project, *args, **kwargs):
        raise AldeskError(f"The disk holding {project.path} is full; the last change was not saved.")

    monkeypatch.setattr(model_store, "write_predictions", disk_full)
    errors = _errors_storing(qtbot, controller, outcome)
    assert "is full" in errors[0] and str(path) in errors[0]
    assert _models(path) == 0 and controller._writing is None


def test_closing_stores_a_result_still_waiting_for_a_gap(controller, labeled_project, monkeypatch):
    path, outcome = labeled_project
    monkeypatch.setattr(controller_mod, "QUIET_MS", 60_000)
    controller.label_recorded()
    controller._refresh_arrived(outcome)
    assert _models(path) == 0
    controller.shutdown()
    assert _models(path) == 1  # a finished model is not thrown away at close


def test_a_write_that_cannot_even_open_its_connection_is_reported_and_the_next_result_stored(
    qtbot, controller, labeled_project, monkeypatch
):
    path, outcome = labeled_project

    def cannot_open(project):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(prediction_writer, "second_connection", cannot_open)
    errors = _errors_storing(qtbot, controller, outcome)
    assert "unable to open database file" in errors[0] and str(path) in errors[0]
    assert _models(path) == 0 and controller._writing is None  # not stuck: later results are stored
    monkeypatch.undo()
    controller._refresh_arrived(outcome)
    qtbot.waitUntil(lambda: _models(path) == 1, timeout=5_000)
    with open_project(path, write=False) as project:
        version = model_store.latest_model(project).version
        assert len(model_store.load_predictions(project, version)[0]) == len(outcome.snapshot.item_ids)
