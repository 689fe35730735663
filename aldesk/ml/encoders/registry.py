"""The encoder registry: list, choose, load and (on request only) download.

Image backbones and the text encoder are entries alike; each names the kinds of items it embeds
(``BackboneSpec.kinds``). ``load_encoder`` loads any of them for a kind; ``load_backbone`` the
image backbones, which the model bundle and the benchmarks of pictures need as such."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import lite0, minilm, pixels, tv
from aldesk.ml.encoders.backbone import Backbone
from aldesk.ml.encoders.encoder import Encoder
from aldesk.ml.encoders.spec import BackboneSpec
from aldesk.ml.encoders.weights_file import file_digest, identity_for, read_state_dict
from aldesk.ml.device import configure_cpu_threads, requested_device

PIXELS_SPEC = BackboneSpec(
    name=pixels.NAME,
    dim=3 * pixels.SIDE * pixels.SIDE,
    input_size=pixels.SIDE,
    description="raw pixels: a 32x32 RGB thumbnail, no pretrained weights (fallback)",
    pretrained=False,
)

_SPECS: tuple[BackboneSpec, ...] = (lite0.SPEC, *tv.SPECS, PIXELS_SPEC, minilm.SPEC)
_BY_NAME = {spec.name: spec for spec in _SPECS}


def list_backbones() -> list[BackboneSpec]:
    """Every registered encoder: the image backbones (the default first, the weight-free fallback
    last), then the text encoder."""
    return list(_SPECS)


def encoders_for(kind: str) -> list[BackboneSpec]:
    """The registered encoders that embed items of ``kind``, in the order of ``list_backbones``."""
    return [spec for spec in _SPECS if kind in spec.kinds]


def get_spec(name: str) -> BackboneSpec:
    """The entry called ``name`` (case and -/_ are forgiven); AldeskError listing names if none."""
    wanted = name.strip().lower()
    for candidate in (wanted, wanted.replace("_", "-"), wanted.replace("-", "_")):
        if candidate in _BY_NAME:
            return _BY_NAME[candidate]
    raise AldeskError(f"Unknown backbone {name!r}; available backbones: {', '.join(_BY_NAME)}.")


def default_backbone_name(kind: str = "image") -> str:
    """For images: Lite0 when its weights package is installed, else the first torchvision model
    whose weights are already in torch's cache, else the weight-free ``pixels``. For texts: the
    text encoder (which says how to install it when it is missing)."""
    if kind != "image":
        specs = encoders_for(kind)
        if not specs:
            raise AldeskError(f"No encoder embeds items of kind {kind!r} in this version of aldesk.")
        return specs[0].name
    if lite0.package_weights() is not None:
        return lite0.NAME
    for spec in tv.SPECS:
        if tv.cached_weights(spec.name) is not None:
            return spec.name
    return pixels.NAME


def load_encoder(
    name: str | None = None, weights: Path | None = None, device: str | None = None, *, kind: str = "image"
) -> Encoder:
    """A ready encoder for items of ``kind`` (``name`` None: that kind's default); AldeskError
    when ``name`` embeds another kind, naming the ones that fit. ``weights``: a weights file for
    an image backbone, the model folder for the text encoder."""
    spec = get_spec(name) if name is not None else get_spec(default_backbone_name(kind))
    if kind not in spec.kinds:
        fitting = ", ".join(s.name for s in encoders_for(kind)) or "none"
        raise AldeskError(
            f"The {spec.name} encoder embeds {'/'.join(spec.kinds)} items, not {kind}s; for {kind}s use: {fitting}."
        )
    if spec.name == minilm.NAME:
        return minilm.load_text_encoder(device, model_dir=weights)
    return load_backbone(spec.name, weights, device)


def load_backbone(name: str | None = None, weights: Path | None = None, device: str | None = None) -> Backbone:
    """A ready backbone; AldeskError (no traceback needed) for anything a person can fix.

    ``device``: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``; None reads ``ALDESK_DEVICE``, else auto."""
    spec = get_spec(name) if name is not None else get_spec(default_backbone_name())
    if "image" not in spec.kinds:
        raise AldeskError(f"{spec.name} is not an image backbone; load it with load_encoder.")
    target = requested_device(device)
    threads = configure_cpu_threads() if target.type == "cpu" else 1
    if not spec.pretrained:
        if weights is not None:
            raise AldeskError(f"The {spec.name} backbone uses no weights; leave out --weights {weights}.")
        return Backbone(
            spec,
            pixels.build(),
            target,
            identity_for(spec.name, "", pixels.recipe()),
            pixels.TRANSFORM,
            load_side=spec.input_size,
        )
    status = spec.weights_status(Path(weights) if weights is not None else None)
    if not status.available or status.source is None:
        raise AldeskError(status.hint)
    path = Path(status.source)
    state = read_state_dict(path, spec.name)
    network: nn.Module
    if spec.name == lite0.NAME:
        network, transform = lite0.build(state, path), lite0.TRANSFORM
    else:
        network, transform = tv.build(spec.name, state, path), tv.TRANSFORM
    del state
    identity = identity_for(spec.name, file_digest(path), transform.recipe())
    # Decode until the shorter side is the input side: the 4:3 crop keeps the whole shorter side,
    # so the final resize never enlarges, and JPEG draft decoding skips most of the work (twice
    # the input as the long side, as before, decoded 1024x768 photos at full size: 3.7x the work).
    backbone = Backbone(spec, network, target, identity, transform, load_side=spec.input_size)
    backbone.use_onnx_runtime(threads)
    return backbone


def fetch_weights(name: str) -> Path:
    """Put ``name``'s default weights where loading finds them (downloads torchvision files);
    only the ``aldesk weights fetch`` command calls this."""
    spec = get_spec(name)
    if not spec.pretrained:
        raise AldeskError(f"The {spec.name} backbone uses no weights; there is nothing to fetch.")
    if spec.name == lite0.NAME:
        return lite0.fetch()
    return tv.fetch(spec.name)
