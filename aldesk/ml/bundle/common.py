"""What the image and the text bundles share: the file names, the classifier at the end of every
program (float16 rounding, the rebuilt head, temperature, softmax), the self-check's tolerance,
the model card's common part, and the small helpers of the export's steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from aldesk import __version__
from aldesk.core.classes import list_classes
from aldesk.core.export_target import StagedFolder
from aldesk.core.info import project_info
from aldesk.core.store import Project
from aldesk.ml.bundle.rebuild import Reconstruction
from aldesk.ml.heads.base import RebuiltHead

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

PROGRAM = "model.pt2"
CLASSES = "classes.json"
SPEC = "bundle.json"
CARD = "MODEL_CARD.md"
MAX_BATCH = 65_536
STEPS = 5  # rebuilt the head, loaded the encoder, exported, checked, wrote


class ClassifierOnFeatures(nn.Module):
    """The end of every bundle program: encoder features [B, D] -> class probabilities [B, K].

    The features are rounded to float16 (aldesk stores embeddings as float16 and its head was
    trained and scored on those), then the rebuilt head (``Head.bundle``) gives the logits;
    classes without labels get probability 0 and the head's temperature is applied."""

    inactive: torch.Tensor  # the buffer registered below (nn.Module's lookup types it Tensor | Module)

    def __init__(self, head: RebuiltHead) -> None:
        super().__init__()
        self.head = head.module
        self.register_buffer("inactive", ~head.active)
        self.temperature = head.temperature

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        features = features.float().half().float()  # as stored in the project (float16 embeddings)
        logits = self.head(features).masked_fill(self.inactive, float("-inf"))
        return torch.softmax(logits / self.temperature, dim=1)


@dataclass(frozen=True)
class Check:
    """The finished program run on a few project items against their stored predictions."""

    items: int  # how many could be read and were compared
    max_diff: float | None  # None when no item could be read


class KindBundle(Protocol):
    """One kind's part of the bundle, with its encoder loaded (image_export.py, text_export.py);
    export.py runs the steps and writes what is common."""

    def export_program(self) -> torch.export.ExportedProgram:
        """The encoder and the rebuilt head as one ``torch.export`` program."""
        ...

    def self_check(self, project: Project, program: nn.Module) -> Check:
        """Run ``program`` on a few project items; AldeskError unless it matches the stored predictions."""
        ...

    def write_files(self, stage: StagedFolder) -> int:
        """Write the files this kind adds to the bundle; returns how many."""
        ...

    def spec(self, names: list[str], check: Check) -> dict[str, Any]:
        """bundle.json's content."""
        ...

    def card(self, project: Project, spec: dict[str, Any]) -> str:
        """MODEL_CARD.md's content."""
        ...


def float16_steps(stored: np.ndarray) -> np.ndarray:
    """One float16 step of each stored probability: the precision predictions are stored in."""
    return np.spacing(stored.astype(np.float16)).astype(np.float32)


def model_fields(rec: Reconstruction) -> dict[str, Any]:
    """bundle.json's description of the model version and the contract it keeps."""
    return {
        "projection_dim": rec.head.projection_dim,
        "model_version": rec.model.version,
        "head": rec.model.head,
        "temperature": rec.head.temperature,
        "trained_on_labels": rec.model.n_labels,
        "trained_at": iso(rec.model.created_at),
        "reproduces": f"the stored predictions of model {rec.model.version}: {rec.head.contract}",
    }


def verified(rec: Reconstruction, unit: str, check: Check) -> dict[str, Any]:
    """bundle.json's record of the checks the export made (``unit``: "images" or "texts")."""
    return {
        "pool_items": int(len(rec.item_ids)),
        "max_abs_diff_rebuilt_vs_stored": rec.max_diff,
        unit: check.items,
        "max_abs_diff_program_vs_stored": check.max_diff,
        "note": "stored predictions are float16; differences up to one float16 step (<= 0.00049 below 1) are rounding",
    }


def export_fields() -> dict[str, Any]:
    return {"exported_at": iso(time.time()), "aldesk_version": __version__, "torch_version": torch.__version__}


def features_line(spec: dict[str, Any]) -> str:
    """ "384-d features, projected to 20 dimensions" for the model card."""
    projected = f", projected to {spec['projection_dim']} dimensions" if spec["projection_dim"] else ""
    return f"{spec['embedding_dim']}-d features{projected}"


def card_head(project: Project, spec: dict[str, Any], encoder_line: str) -> list[str]:
    """The model card up to its "Use" section: title, provenance, accuracy and labels per class."""
    info = project_info(project)
    counts = info["per_class"]
    estimate = info.get("estimated_accuracy") or {}
    if estimate.get("value") is not None:
        accuracy = (
            f"{100 * estimate['value']:.1f}% (interval {100 * estimate['low']:.1f}–{100 * estimate['high']:.1f}%, "
            f"from {estimate.get('audit_labels')} randomly drawn audit labels)"
        )
    else:
        accuracy = "not estimated yet (too few randomly drawn audit labels)"
    lines = [
        f"# Model card: {project.name} (aldesk model version {spec['model_version']})",
        "",
        f"- Exported: {spec['exported_at']} by aldesk {spec['aldesk_version']} (torch {spec['torch_version']})",
        f"- Trained: {spec['trained_at']} on {spec['trained_on_labels']} labels; head `{spec['head']}`, "
        f"temperature {spec['temperature']:.3g}",
        encoder_line,
        f"- Estimated accuracy: {accuracy}",
        "",
        "## Labels per class (in the project at export time)",
        "",
        "| class | labels |",
        "|---|---|",
        *[f"| {name} | {counts.get(name, 0)} |" for name in spec["classes"]],
        "",
    ]
    if spec["classes_without_labels"]:
        lines += [f"Classes without labels when trained (always probability 0): {', '.join(spec['classes_without_labels'])}.", ""]
    return lines


def class_names(project: Project, class_ids: list[int]) -> list[str]:
    names = {c.id: c.name for c in list_classes(project)}
    return [names.get(cid, f"class {cid}") for cid in class_ids]


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


class Stepper:
    """Reports progress after each step; returns True when the caller should stop."""

    def __init__(self, progress: Progress | None, cancel: Cancel | None) -> None:
        self.progress, self.cancel, self.done = progress, cancel, 0
        if progress is not None:
            progress(0, STEPS)

    def __call__(self, _what: str) -> bool:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, STEPS)
        return bool(self.cancel is not None and self.cancel())
