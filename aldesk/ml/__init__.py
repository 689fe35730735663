"""The learning engine, in rooms: encoders (embedding items), heads (the trainable part), the
query strategies, loop (the one learning round and the app's jobs), evaluation (audits and
suspects), simulation, bundle (the model export) and cluster (Dask embedding); docs/architecture.md
draws them. Never imports Qt.

Kept empty of imports on purpose: ``import aldesk.ml`` must not pay for torch until a
submodule that needs it is imported.
"""
