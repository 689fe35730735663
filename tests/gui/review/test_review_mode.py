"""Review modes of the main window: unsure items, suspects, the grid; Esc returns to labeling."""

from __future__ import annotations

from PySide6.QtCore import Qt

from aldesk.core.labels import history
from aldesk.core.walks import SUSPECTS, UNSURE
from aldesk.core.store import open_project
from aldesk.core.suspects_store import Suspect, save_suspects
from tests.gui.test_main_window import _press, _status, project_path, window  # noqa: F401 - fixtures


def test_unsure_items_get_their_own_review_and_labeling_resumes_after_it(qtbot, window, project_path):  # noqa: F811
    unsure = []
    for _ in range(2):
        unsure.append(window.session.current.item_id)
        _press(qtbot, window, Qt.Key.Key_U)
    _press(qtbot, window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    assert window.session.review is not None and window.session.review.kind == UNSURE
    assert window.session.current.item_id == unsure[0]
    assert "Reviewing unsure items" in window.mode_label.text()
    _press(qtbot, window, Qt.Key.Key_2)
    assert _status(project_path, unsure[0]) == ("labeled", 2)
    with open_project(project_path, write=False) as project:
        assert history(project, unsure[0])[-1].strategy == UNSURE
    _press(qtbot, window, Qt.Key.Key_Space)  # the last one stays unsure; the review is over
    assert _status(project_path, unsure[1]) == ("unsure", None)
    assert window.session.review is None and window.mode_label.text() == ""
    _press(qtbot, window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    assert window.session.current.item_id == unsure[1]
    _press(qtbot, window, Qt.Key.Key_Escape)
    assert window.session.review is None


def test_suspects_review_walks_the_stored_ranking(qtbot, window, project_path):  # noqa: F811
    labeled = []
    for _ in range(3):
        labeled.append(window.session.current.item_id)
        _press(qtbot, window, Qt.Key.Key_1)
    save_suspects(
        window.project,
        [Suspect(labeled[2], 1, 1, 3, 0.95, 0.05), Suspect(labeled[0], 2, 1, 2, 0.6, 0.4)],
        model_version=None,
        n_labels=3,
        method="test",
    )
    _press(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.review.kind == SUSPECTS and window.session.current.item_id == labeled[2]
    assert "gives the label it has only 5%" in window.labeling.title.toolTip()  # why it is listed
    assert window.labeling.prediction.text().startswith("labeled: ")  # and the label it has
    _press(qtbot, window, Qt.Key.Key_3)
    assert _status(project_path, labeled[2]) == ("labeled", 3)
    assert window.session.current.item_id == labeled[0]
    _press(qtbot, window, Qt.Key.Key_Backspace)  # undo inside the review
    assert _status(project_path, labeled[2]) == ("labeled", 1)
    _press(qtbot, window, Qt.Key.Key_Escape)
    assert window.session.review is None


def test_no_suspects_yet_says_so(qtbot, window):  # noqa: F811
    _press(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.review is None
    assert "No suspected wrong labels" in window.statusBar().currentMessage()


def test_the_grid_opens_and_esc_returns_to_labeling(qtbot, window):  # noqa: F811
    _press(qtbot, window, Qt.Key.Key_1)
    _press(qtbot, window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.review_view
    assert not window.actions["skip"].isEnabled()
    _press(qtbot, window, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.labeling and window.actions["skip"].isEnabled()


def test_the_worker_ranks_suspects_and_estimates_accuracy_after_retraining(qtbot, window, project_path):  # noqa: F811
    from aldesk.core.suspects_store import load_suspects

    controller = window.controller
    with qtbot.waitSignal(controller.queue_updated, timeout=60_000):
        pass  # embeddings, then the first refresh
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) * 8:  # 24 labels, 1 of them an audit item
        _press(qtbot, window, key)  # (audits start after the cold start: 9 labels for 3 classes)
    seen = []
    controller.model_updated.connect(lambda _version, metrics: seen.append(metrics))
    controller.retrain_now()
    # an automatic retrain may still be running on fewer labels: wait for the one with all 24
    qtbot.waitUntil(lambda: any(m["n_labels"] == 24 for m in seen), timeout=120_000)
    metrics = next(m for m in seen if m["n_labels"] == 24)
    assert metrics["estimate"]["audit_labels"] == 1 and metrics["estimate"]["value"] is None
    from aldesk.core.suspects_store import doubt_cutoff, latest_run

    with open_project(project_path, write=False) as project:
        run, suspects = latest_run(project), load_suspects(project)
        labeled = project.conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0]
    # a ranking of every label was made; only the labels the held-out heads really doubt are
    # listed (labels given by key, not by colour, leave them unsure rather than contradicting)
    assert labeled >= 20 and run is not None and run.n_labels == labeled
    assert len(suspects) < labeled and all(s.p_given < doubt_cutoff(3) for s in suspects)
    assert "1/10 audits" in window.model_label.text()


def test_a_project_without_images_opens_without_a_worker_warning(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from aldesk.core.classes import add_classes
    from aldesk.core.store import create_project
    from aldesk.gui.main_window import MainWindow

    path = tmp_path / "empty.aldesk"
    with create_project(path) as project:
        add_classes(project, ["a", "b"])
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    errors = []
    assert win.open_project(path)
    win.controller.error.connect(errors.append)
    qtbot.waitUntil(lambda: win.worker_label.text() == "idle", timeout=30_000)
    assert errors == [] and not win.banner.isVisible()
    win.close()
