"""The model bundle of an image project: one folder that classifies images without aldesk.

Contents of the bundle folder:

- ``model.pt2``: a ``torch.export`` program (load it with ``torch.export.load(path).module()``)
  mapping float32 images ``[B, 3, S, S]`` (RGB, values 0..1; ``S`` in ``bundle.json``) to class
  probabilities ``[B, K]`` in the order of ``classes.json``. Inside: the backbone's normalisation,
  the backbone, the rounding of its features to float16 (aldesk stores embeddings as float16 and
  its head was trained and scored on those), then the stored head (``Head.bundle``; aldesk/ml/heads/linear_export.py for the linear heads):
  for the linear heads the projection they work on (``pool.z`` of aldesk/ml/loop/pool.py:
  x -> (x - mean) @ components / scale, fitted on the project's pool) and the linear layer; for
  the ``cnn`` head (pixels backbone) the small CNN on the 32 x 32 thumbnail. Classes that had no
  labels get probability 0; the head's temperature is applied.
- ``classes.json``: the class names, in output order.
- ``bundle.json``: the input recipe and this contract, machine-readable.
- ``MODEL_CARD.md``: what it is, how to feed it, label counts, estimated accuracy.

Why ``torch.export`` and not TorchScript: ``torch.jit.trace``/``script`` are deprecated in the torch
versions aldesk supports (they warn on every call); ``torch.export`` is their replacement, keeps a
dynamic batch dimension, and its file loads with torch alone. The cost: it needs torch >= 2.x on
the loading side (no TorchScript C++ loader).

What it reproduces, exactly: the stored predictions of the latest model version, i.e. what the
app shows and queries with. For the linear heads those come from the linear layer on the
projected embeddings (the app's ``default`` head uses the unlabeled pool only to choose its
training examples by label propagation; it predicts with the same linear layer). The projection
is not stored with the model, so it is fitted again from the same stored embeddings with the same
seed, and the export refuses to proceed unless the rebuilt head reproduces every stored
prediction (to one float16 step, the precision they are stored in). The program then reproduces
the app's float32 predictions for an image prepared as aldesk prepares it (max abs diff <= 1e-4,
tested), and the stored float16 copies to within their rounding.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.core.export_target import StagedFolder
from aldesk.core.imageio import load_image
from aldesk.core.items import all_paths
from aldesk.core.store import Project
from aldesk.ml.bundle.common import (
    CLASSES,
    MAX_BATCH,
    PROGRAM,
    Check,
    ClassifierOnFeatures,
    card_head,
    export_fields,
    features_line,
    model_fields,
    verified,
)
from aldesk.ml.bundle.rebuild import Reconstruction
from aldesk.ml.heads.base import RebuiltHead
from aldesk.ml.encoders import Backbone, load_backbone
from aldesk.ml.encoders.preprocess import MAX_ASPECT, SquareTransform

KIND = "image"
# Images the export runs through the finished program as a last check against stored predictions.
SELF_CHECK_IMAGES = 8


class BundleModel(ClassifierOnFeatures):
    """images [B, 3, S, S] in 0..1 -> class probabilities [B, K]; see the module docstring."""

    # The buffers registered below (nn.Module's attribute lookup alone types them Tensor | Module).
    pixel_mean: torch.Tensor
    pixel_std: torch.Tensor

    def __init__(self, network: nn.Module, transform: SquareTransform, head: RebuiltHead):
        super().__init__(head)
        self.network = network
        self.register_buffer("pixel_mean", torch.tensor(transform.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(transform.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.pixel_mean) / self.pixel_std
        return self.classify(self.network(x))


def build_bundle_model(backbone: Backbone, rec: Reconstruction) -> BundleModel:
    transform = backbone.transform
    if not isinstance(transform, SquareTransform):
        raise AldeskError(f"The {backbone.spec.name} backbone's preprocessing cannot be described for an export.")
    # A CPU copy in the ordinary memory layout: the app's copy may be channels-last for speed.
    network = copy.deepcopy(backbone.network).cpu().to(memory_format=torch.contiguous_format)
    return BundleModel(network, transform, rec.head).eval()


def input_tensor(backbone: Backbone, path: str | Path) -> torch.Tensor:
    """One image as the bundle expects it ([3, S, S], 0..1), prepared exactly as aldesk does."""
    transform = cast(SquareTransform, backbone.transform)  # every backbone's is; build_bundle_model checks
    # SquareTransform computes (pixel - 255 mean) / (255 std): with mean 0 and std 1 that is pixel / 255.
    geometry = SquareTransform(transform.side, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    return geometry(load_image(path, short_side=backbone.load_side))


class ImageBundle:
    """The image part of the bundle (common.KindBundle), with the project's backbone loaded."""

    def __init__(self, rec: Reconstruction, weights: Path | None) -> None:
        backbone = load_backbone(rec.embedding_set.backbone, weights, device="cpu")
        if backbone.identity != rec.embedding_set.identity:
            raise AldeskError(
                f"Model {rec.model.version} was trained on {rec.embedding_set.backbone} embeddings made "
                "with other weights than the ones found now; pass the weights file they were made "
                "with: --weights FILE."
            )
        self.rec, self.backbone = rec, backbone
        self.model = build_bundle_model(backbone, rec)

    def export_program(self) -> torch.export.ExportedProgram:
        side = self.backbone.spec.input_size
        example = torch.rand(2, 3, side, side)
        with torch.no_grad():
            return torch.export.export(
                self.model, (example,), dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}
            )

    def self_check(self, project: Project, program: nn.Module) -> Check:
        return _self_check(project, self.backbone, program, self.rec)

    def write_files(self, stage: StagedFolder) -> int:
        return 0  # the program, classes, spec and card are all an image bundle holds

    def spec(self, names: list[str], check: Check) -> dict[str, Any]:
        return bundle_spec(self.backbone, self.rec, names, check)

    def card(self, project: Project, spec: dict[str, Any]) -> str:
        return model_card(project, spec)


def bundle_spec(backbone: Backbone, rec: Reconstruction, names: list[str], check: Check) -> dict[str, Any]:
    transform = cast(SquareTransform, backbone.transform)  # build_bundle_model checked it
    side = backbone.spec.input_size
    return {
        "program": PROGRAM,
        "load": f"torch.export.load('{PROGRAM}').module()",
        "input": {
            "shape": ["B", 3, side, side],
            "dtype": "float32",
            "channels": "RGB",
            "values": "0..1 (pixel / 255)",
            "geometry": (
                f"upright RGB picture (EXIF orientation applied, transparency on white); if its "
                f"aspect ratio exceeds {MAX_ASPECT:.4g}:1, crop equal strips from both ends of the "
                f"long side down to {MAX_ASPECT:.4g}:1; resize to {side}x{side} with Pillow's "
                f"BICUBIC filter (reducing_gap=3.0). aldesk first shrinks the picture (never enlarging) until "
                f"its shorter side is at most {2 * backbone.load_side} px: JPEG draft decoding, and a LANCZOS "
                f"thumbnail to a shorter side of {backbone.load_side} px where that is not enough; do the same to "
                "reproduce its numbers exactly"
            ),
            "normalisation_inside_program": {
                "mean": list(transform.mean),
                "std": list(transform.std),
                "formula": "(x - mean) / std per channel",
            },
        },
        "output": {"shape": ["B", len(names)], "meaning": "class probabilities in classes.json order; rows sum to 1"},
        "classes": names,
        "classes_without_labels": [n for n, a in zip(names, rec.head.active.tolist()) if not a],
        "backbone": backbone.spec.name,
        "backbone_identity": backbone.identity,
        "embedding_dim": backbone.spec.dim,
        **model_fields(rec),
        "verified": verified(rec, "images", check),
        **export_fields(),
    }


def model_card(project: Project, spec: dict[str, Any]) -> str:
    side = spec["input"]["shape"][2]
    lines = card_head(project, spec, f"- Backbone: {spec['backbone']} ({features_line(spec)})")
    lines += [
        "## Use",
        "",
        "```python",
        "import torch",
        f"model = torch.export.load('{PROGRAM}').module()",
        f"probs = model(images)  # images: float32 [B, 3, {side}, {side}], RGB, 0..1",
        "```",
        "",
        f"Input: {spec['input']['geometry']}. Values are pixel/255; the program normalises "
        f"(mean {spec['input']['normalisation_inside_program']['mean']}, std "
        f"{spec['input']['normalisation_inside_program']['std']}) itself.",
        "",
        f"Output: class probabilities in the order of `{CLASSES}`.",
        "",
        f"Contract: {spec['reproduces']}. Checked at export: the rebuilt model matches all "
        f"{spec['verified']['pool_items']} stored predictions (max diff {spec['verified']['max_abs_diff_rebuilt_vs_stored']:.2g}); "
        f"the program matches them on {spec['verified']['images']} project images "
        f"(max diff {spec['verified']['max_abs_diff_program_vs_stored']:.2g}); stored values are float16.",
        "",
    ]
    return "\n".join(lines)


def _self_check(project: Project, backbone: Backbone, program: nn.Module, rec: Reconstruction) -> Check:
    """Run the finished program on a few project images and compare with the stored predictions."""
    paths = all_paths(project)
    tensors, rows = [], []
    for pos in np.linspace(0, len(rec.item_ids) - 1, min(SELF_CHECK_IMAGES, len(rec.item_ids))).astype(int):
        try:
            tensors.append(input_tensor(backbone, project.resolve(paths[int(rec.item_ids[pos])])))
            rows.append(int(pos))
        except (AldeskError, OSError, KeyError):
            continue  # a missing or changed file: check the others
    if not tensors:
        return Check(0, None)
    with torch.no_grad():
        probs = program(torch.stack(tensors)).numpy()
    diff = float(np.abs(probs - rec.stored_probs[rows]).max())
    if diff > 1e-2:
        raise AldeskError(
            f"The exported program's output differs from the stored predictions by {diff:.2g} on "
            "project images; the images or the backbone may have changed since embedding. Nothing was written."
        )
    return Check(len(rows), diff)
