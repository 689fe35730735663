"""Kinds of items: the seam a new kind of item plugs into (images and texts).

Each kind is one module here with an ``ItemKind`` (base.py), imported below: which files an import takes, what
it checks and records about one, and how one is loaded for an encoder. The layers above name
the rest by the kind's name: which encoders embed it (``BackboneSpec.kinds`` in
aldesk/ml/encoders) and which view shows it (aldesk/gui). The round, the store and the
strategies never ask: they see item ids and vectors. A project holds one kind, stored in its
``meta`` table as ``item_kind``; projects from before kinds existed hold images.
"""

from aldesk.core.kinds import image, text  # noqa: F401 - each kind registers itself; a new kind is one more here
from aldesk.core.kinds.base import DEFAULT_KIND, ItemKind, get_kind, kind_names, kind_of, set_kind

__all__ = ["DEFAULT_KIND", "ItemKind", "get_kind", "kind_names", "kind_of", "set_kind"]
