"""aldesk: a desktop active-learning labeling application."""

__version__ = "0.1.0"
