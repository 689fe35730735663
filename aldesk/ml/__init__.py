"""Learning: backbones, embeddings, heads, query strategies, simulation. Never imports Qt.

Kept empty of imports on purpose: ``import aldesk.ml`` must not pay for torch until a
submodule that needs it is imported.
"""
