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


class ImageError(AldeskError):
    """An image cannot be used; ``reason`` is a short phrase for import reports."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
