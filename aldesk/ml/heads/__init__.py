"""Heads: the trainable part of the model (base.py says what one is). Importing the package
registers every head: a new head is one more module here and one more name below."""

from aldesk.ml.heads import app, cnn, plain  # noqa: F401 - each registers itself
