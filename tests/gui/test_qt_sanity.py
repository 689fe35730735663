"""Guards against Qt binding bugs that would crash the app after a while of use."""

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_leak_references_to_none():
    # PySide6 6.12.0 on Python 3.11 decrements None's reference count on every call that
    # returns nothing; after a few thousand calls Python aborts ("none_dealloc").
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.setObjectName("x")
    assert sys.getrefcount(None) - before > -100
