"""The learning loop in the status bar, and the latest model's guess for the item on screen.

Shows the worker's stage and progress, the latest model (version, age, backbone, the audit
estimate of its accuracy) and the stopping advice; keeps that model's predictions so that the
labeling view can say "Model: cat 87%" without reading them per key press.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from aldesk.core.eta import Remaining, remaining_words
from aldesk.core.store import Project

AGE_EVERY_MS = 30_000  # how often "(3 min ago)" is brought up to date


class LearningStatus(QObject):
    def __init__(self, status_bar: QStatusBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model_label = QLabel(status_bar)
        self.advice_label = QLabel(status_bar)  # appears when the stopping rule says labels stopped helping
        self.worker_label = QLabel(status_bar)
        self.tuning_label = QLabel(status_bar)  # text projects: the encoder's fine-tuning, beside the refreshes
        self.worker_bar = QProgressBar(status_bar)
        self.worker_bar.setMaximumWidth(160)
        self.worker_bar.setTextVisible(False)
        for widget in (self.model_label, self.advice_label, self.worker_label, self.tuning_label):
            status_bar.addWidget(widget)
        status_bar.addPermanentWidget(self.worker_bar)
        self.project: Project | None = None
        self._predictions: tuple[np.ndarray, np.ndarray, list[int]] | None = None  # ids, probs, class ids
        self._model: tuple[int, float, str] | None = None  # version, created (monotonic), head
        self._estimate: dict | None = None  # the latest model's audit estimate
        self._calibrated = False  # whether the latest model's probabilities can be shown as numbers
        # time left of the worker's and the tuning's stages (each its own: they run side by side)
        self._worker_left, self._tuning_left = Remaining(), Remaining()
        self._age_timer = QTimer(self)
        self._age_timer.timeout.connect(self.update_model_label)
        self._age_timer.start(AGE_EVERY_MS)

    def clear(self) -> None:
        """No project open: nothing to show."""
        self.project, self._predictions, self._model, self._estimate = None, None, None, None
        for label in (self.model_label, self.advice_label, self.worker_label, self.tuning_label):
            label.setText("")
        self.model_label.setToolTip("")  # the last project's tuning outcome
        self.worker_bar.hide()

    def load_latest_model(self, project: Project, fresh: tuple[int, object, object] | None = None) -> None:
        """Read the latest model (``fresh``: its predictions as the controller just stored them)."""
        from aldesk.core.model_store import latest_model, load_predictions

        self.project = project
        record = latest_model(project)
        if record is None:
            self.update_model_label()
            return
        if fresh is not None and fresh[0] == record.version:
            stored = fresh[1], fresh[2]  # just stored by the controller: no need to read it back
        else:
            stored = load_predictions(project, record.version)
        if stored is not None:
            self._predictions = (np.asarray(stored[0]), np.asarray(stored[1]), record.class_ids)
        age = time.time() - record.created_at
        # The head is named in the status bar when it is the weight-free CNN.
        self._model = (record.version, time.monotonic() - age, record.head)
        self._calibrated = bool(record.metrics.get("calibrated", True))  # models stored before: as they were shown
        self._update_advice()
        self.update_model_label()

    def prediction(self, item_id: int) -> tuple[int, float | None] | None:
        """The latest model's best class for this item and its probability, if it has one (None
        for the probability while the model is not calibrated: then it would claim far too much)."""
        if self._predictions is None:
            return None
        ids, probs, class_ids = self._predictions
        pos = int(np.searchsorted(ids, item_id))
        if pos >= len(ids) or ids[pos] != item_id:
            return None
        best = int(probs[pos].argmax())
        return class_ids[best], float(probs[pos, best]) if self._calibrated else None

    def update_model_label(self) -> None:
        from aldesk.core.tuned_encoders import active_set, describe_encoder

        if self.project is None:
            return
        embedding_set = active_set(self.project)
        # which encoder is in use: the pretrained one, or the one fine-tuned on these labels
        backbone = f" · {describe_encoder(self.project, embedding_set)}" if embedding_set else ""
        if self._model is None:
            self.model_label.setText(f"no model yet{backbone}")
            return
        version, created, head = self._model
        if head == "cnn":
            backbone += " + CNN trained from scratch"
        minutes = int((time.monotonic() - created) // 60)
        age = "just now" if minutes < 1 else f"{minutes} min ago"
        estimate = self._estimate or {}
        if estimate.get("value") is not None:
            accuracy = (
                f" · accuracy ≈ {estimate['value']:.0%} ({estimate['low']:.0%}–{estimate['high']:.0%},"
                f" {estimate['audit_labels']} audits)"
            )
        else:
            accuracy = f" · accuracy not estimated yet ({estimate.get('audit_labels', 0)}/10 audits)"
        self.model_label.setText(f"model v{version} ({age}){backbone}{accuracy}")

    def _update_advice(self) -> None:
        from aldesk.core.stopping import project_advice

        self._estimate, advice = project_advice(self.project)
        self.advice_label.setText("Labels have stopped helping much: consider stopping" if advice["stop"] else "")
        self.advice_label.setToolTip(advice["reason"])

    def worker_state(self, stage: str, done: int, total: int) -> None:
        if stage == "idle":
            self.worker_label.setText("idle")
            self.worker_bar.hide()
            return
        self.worker_bar.show()
        if total > 1:
            self.worker_bar.setRange(0, total)
            self.worker_bar.setValue(done)
            left = remaining_words(self._worker_left.update(stage, done, total))
            self.worker_label.setText(f"{stage} {100 * done // total}%" + (f" · {left}" if left else ""))
        else:
            self.worker_bar.setRange(0, 0)  # busy indicator
            self.worker_label.setText(stage)

    def tuning_state(self, stage: str, done: int, total: int) -> None:
        """The fine-tuning's own progress (it runs beside the refreshes, so it has its own label)."""
        if stage == "idle":
            self.tuning_label.setText("")
        elif total > 1:
            left = remaining_words(self._tuning_left.update(stage, done, total))
            self.tuning_label.setText(f"· {stage} {100 * done // total}%" + (f" · {left}" if left else ""))
        else:
            self.tuning_label.setText(f"· {stage}")

    def encoder_news(self, words: str) -> None:
        """A fine-tuned encoder was compared with the one in use: the outcome, on hover."""
        self.model_label.setToolTip(words[:1].upper() + words[1:] + ".")
        self.update_model_label()

    def not_learning(self) -> None:
        """The project is read-only: the worker does not run."""
        self.worker_label.setText("read-only: not learning")
        self.worker_bar.hide()
