"""The embedded SQLite store (SQLAlchemy Core)."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
