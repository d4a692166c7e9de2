"""The embedded SQLite store: the stdlib driver runs every query; SQLAlchemy Core builds the operators' queries."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
