"""The model export (``aldesk export --format model``): one folder that classifies items without
aldesk. export.py runs the steps for every kind; image_export.py and text_export.py are each
kind's program and files, common.py what they share; rebuild.py rebuilds the stored head;
text_predict.py is the predict.py a text bundle carries."""

from aldesk.ml.bundle.export import export_model, model_card
from aldesk.ml.bundle.image_export import input_tensor
from aldesk.ml.bundle.rebuild import reconstruct

__all__ = ["export_model", "input_tensor", "model_card", "reconstruct"]
