"""The Qt-free, torch-free core: project store, items, labels, import/export, image I/O."""
