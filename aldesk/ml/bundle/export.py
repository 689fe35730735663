"""The model export (``aldesk export --format model``): one folder that classifies the project's
kind of items without aldesk.

Every bundle holds ``model.pt2`` (a ``torch.export`` program: the encoder, the float16 rounding
of the stored embeddings and the rebuilt head, ending in class probabilities), ``classes.json``,
``bundle.json`` (the input contract) and ``MODEL_CARD.md``; a text bundle adds the tokenizer
and a ``predict.py``. What the program takes is the kind's: image_export.py (images [B, 3, S, S])
and text_export.py (token ids and attention mask [B, L]) say it in their docstrings.

The steps are the same for both kinds, run here: rebuild the stored head and check it
reproduces every stored prediction (rebuild.py), load the encoder the embeddings were made with
(refusing other weights), export the program, run it on a few of the project's items against
their stored predictions (refusing a mismatch), then write the folder through a staged target,
so a refusal, a cancel or an error leaves nothing under the final name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from aldesk import __version__
from aldesk.core.errors import AldeskError
from aldesk.core.export_report import ExportReport
from aldesk.core.export_target import StagedFolder
from aldesk.core.kinds import kind_of
from aldesk.core.store import Project
from aldesk.ml.bundle import image_export, text_export
from aldesk.ml.bundle.common import CARD, CLASSES, PROGRAM, SPEC, Cancel, KindBundle, Progress, Stepper, class_names
from aldesk.ml.bundle.rebuild import Reconstruction, reconstruct

COMMON_FILES = 4  # program, classes, spec, card


def export_model(
    project: Project,
    out: str | Path,
    *,
    force: bool = False,
    weights: Path | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ExportReport:
    """Write the bundle folder ``out`` (new or empty; ``force`` replaces an earlier export).
    ``weights``: the weights file (images) or model folder (texts) the embeddings were made with,
    when not the one aldesk finds by itself."""
    kind = kind_of(project).name
    step = Stepper(progress, cancel)
    with StagedFolder(out, project, force=force) as stage:
        report = ExportReport("model", stage.out, unit="files")
        rec = reconstruct(project)
        if step("rebuilt and verified the projection"):
            return _cancelled(report)
        part = _load(project, kind, rec, weights)
        if step("loaded the encoder"):
            return _cancelled(report)
        program = part.export_program()
        if step("exported the program"):
            return _cancelled(report)
        check = part.self_check(project, program.module())
        if step("checked the program on project items"):
            return _cancelled(report)
        names = class_names(project, rec.model.class_ids)
        torch.export.save(program, str(stage.path(PROGRAM)))
        _write_json(stage.path(CLASSES), names)
        extra = part.write_files(stage)
        spec = part.spec(names, check)
        _write_json(stage.path(SPEC), spec)
        stage.path(CARD).write_text(part.card(project, spec), encoding="utf-8")
        stage.write_marker(
            {"format": "model", "project": str(project.path), "aldesk_version": __version__, "model_version": rec.model.version}
        )
        stage.commit()
        step("wrote the bundle")
    report.written = COMMON_FILES + extra
    if check.items == 0:
        report.notes.append(f"no project {kind_of(project).noun} could be read for the final check of the program")
    return report


def model_card(project: Project, spec: dict[str, Any]) -> str:
    """MODEL_CARD.md for the bundle ``spec`` describes (bundle.json's content)."""
    if spec.get("kind") == text_export.KIND:
        return text_export.model_card(project, spec)
    return image_export.model_card(project, spec)


def _load(project: Project, kind: str, rec: Reconstruction, weights: Path | None) -> KindBundle:
    """The kind's part of the bundle, with its encoder loaded and checked against the embeddings."""
    if kind == text_export.KIND:
        return text_export.TextBundle(rec, weights, project)
    if kind == image_export.KIND:
        return image_export.ImageBundle(rec, weights)
    raise AldeskError(f"This version of aldesk cannot export a model of {kind} items (it exports images and texts).")


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _cancelled(report: ExportReport) -> ExportReport:
    report.cancelled = True
    return report
