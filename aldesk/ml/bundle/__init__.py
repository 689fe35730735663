"""The model export (``aldesk export --format model``): one folder that classifies items without
aldesk. export.py writes and checks the bundle; rebuild.py rebuilds the stored head."""

from aldesk.ml.bundle.export import export_model, input_tensor, model_card
from aldesk.ml.bundle.rebuild import reconstruct

__all__ = ["export_model", "input_tensor", "model_card", "reconstruct"]
