"""The status bar names the weight-free CNN when it is the model in use."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings

from aldesk.core.classes import add_classes
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from aldesk.core.store import create_project
from aldesk.gui.main_window import MainWindow
from aldesk.ml.heads import cnn as scratch_cnn
from aldesk.ml.encoders import load_backbone
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.embedding import embed_project
from aldesk.ml.loop.snapshot import take_snapshot
from aldesk.ml.loop.store import save_training
from tests.conftest import distinct_colour, train_round, write_image


def test_status_bar_names_backbone_and_cnn(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(scratch_cnn, "MIN_STEPS", 5)  # a model is all this test needs
    path = tmp_path / "cnn.aldesk"
    with create_project(path) as project:
        add_classes(project, ["a", "b"])
        for i in range(8):
            write_image(tmp_path / "images" / f"{i}.png", distinct_colour(i * 97), size=(16, 16))
        import_paths(project, [tmp_path / "images"])
        embed_project(project, load_backbone("pixels"))
        for item in (1, 2, 3, 4):
            record(project, item, "label", 1 + item % 2)
        snapshot = take_snapshot(project)
        result = train_round(snapshot, PoolModel.build(snapshot.vectors))
        assert result.metrics["head"] == "cnn" and np.isfinite(result.probs).all()
        save_training(project, snapshot, result)
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(path)
    try:
        assert "pixels + CNN trained from scratch" in win.model_label.text()
    finally:
        win.close()
