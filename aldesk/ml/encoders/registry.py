"""The backbone registry: list, choose, load and (on request only) download."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import lite0, pixels, tv
from aldesk.ml.encoders.backbone import Backbone
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

_SPECS: tuple[BackboneSpec, ...] = (lite0.SPEC, *tv.SPECS, PIXELS_SPEC)
_BY_NAME = {spec.name: spec for spec in _SPECS}


def list_backbones() -> list[BackboneSpec]:
    """Every registered backbone, the default choice first, the weight-free fallback last."""
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


def default_backbone_name() -> str:
    """Lite0 when its weights package is installed, else the first torchvision model whose
    weights are already in torch's cache, else the weight-free ``pixels``."""
    if lite0.package_weights() is not None:
        return lite0.NAME
    for spec in tv.SPECS:
        if tv.cached_weights(spec.name) is not None:
            return spec.name
    return pixels.NAME


def load_backbone(name: str | None = None, weights: Path | None = None, device: str | None = None) -> Backbone:
    """A ready backbone; AldeskError (no traceback needed) for anything a person can fix.

    ``device``: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``; None reads ``ALDESK_DEVICE``, else auto."""
    spec = get_spec(name) if name is not None else get_spec(default_backbone_name())
    target = requested_device(device)
    if target.type == "cpu":
        configure_cpu_threads()
    if not spec.pretrained:
        if weights is not None:
            raise AldeskError(f"The {spec.name} backbone uses no weights; leave out --weights {weights}.")
        return Backbone(
            spec,
            pixels.build(),
            target,
            identity_for(spec.name, "", pixels.recipe()),
            pixels.TRANSFORM,
            load_side=2 * spec.input_size,
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
    # Load at twice the input side: pictures up to 2:1 then need no enlarging after the
    # 4:3 crop, and JPEG draft decoding still skips most of the work on large photos.
    return Backbone(spec, network, target, identity, transform, load_side=2 * spec.input_size)


def fetch_weights(name: str) -> Path:
    """Put ``name``'s default weights where loading finds them (downloads torchvision files);
    only the ``aldesk weights fetch`` command calls this."""
    spec = get_spec(name)
    if not spec.pretrained:
        raise AldeskError(f"The {spec.name} backbone uses no weights; there is nothing to fetch.")
    if spec.name == lite0.NAME:
        return lite0.fetch()
    return tv.fetch(spec.name)
