"""aldesk's benchmark scripts (benchmarks/README.md). Run one from the repository root:
``PYTHONPATH=. python benchmarks/NAME.py`` or ``python -m benchmarks.NAME``."""
