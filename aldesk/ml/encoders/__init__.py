"""Encoders that turn items into feature vectors: pretrained image backbones, a weight-free
fallback for pictures, and a sentence encoder for texts (minilm.py).

Nothing here downloads implicitly: weights come from an installed package, torch's cache or a
file given with ``--weights``; only :func:`fetch_weights` (the ``aldesk weights fetch``
command) goes to the network.
"""

from aldesk.ml.encoders.backbone import Backbone
from aldesk.ml.encoders.registry import (
    encoders_for,
    default_backbone_name,
    fetch_weights,
    get_spec,
    list_backbones,
    load_backbone,
    load_encoder,
)
from aldesk.ml.encoders.encoder import Encoder
from aldesk.ml.encoders.spec import BackboneSpec, WeightsStatus

__all__ = [
    "Backbone",
    "BackboneSpec",
    "WeightsStatus",
    "default_backbone_name",
    "encoders_for",
    "fetch_weights",
    "get_spec",
    "list_backbones",
    "load_backbone",
    "load_encoder",
    "Encoder",
]
