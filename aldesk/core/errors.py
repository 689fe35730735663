"""Errors a user can act on. Each message names the file or value and says what to do."""

from __future__ import annotations


class AldeskError(Exception):
    """Base for every error aldesk reports to a person (no traceback shown)."""


class ProjectError(AldeskError):
    """The project file cannot be opened or written as asked."""


class NotAProjectError(ProjectError):
    """The file is not an aldesk project (not SQLite, corrupt, or another program's database)."""


class NewerProjectError(ProjectError):
    """The project was written by a newer aldesk than this one."""


class ProjectLockedError(ProjectError):
    """Another live aldesk process has the project open for writing."""


class ReadOnlyProjectError(ProjectError):
    """The project can be read but not written (read-only medium, file or folder permissions,
    or a damaged file). ``reason`` says why in a short phrase; the project can still be opened
    with ``write=False`` to browse, review and export it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DamagedProjectError(ReadOnlyProjectError):
    """SQLite's check found damage: aldesk never writes into such a file. It can be opened
    read-only, and ``aldesk recover`` copies every readable row into a new project."""


class DiskFullError(ProjectError):
    """A write failed for lack of space (a full disk or a file-size limit); nothing committed
    before is lost. ``folder`` is where space is needed, ``needed`` roughly how many bytes."""

    def __init__(self, message: str, folder: object, needed: int) -> None:
        super().__init__(message)
        self.folder = folder
        self.needed = needed


class ItemError(AldeskError):
    """An item (a file, or a row of a table) cannot be used; ``reason`` is a short phrase for
    import reports."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ImageError(ItemError):
    """An image cannot be used."""
