"""The desktop window (PySide6); nothing outside this package imports Qt."""
