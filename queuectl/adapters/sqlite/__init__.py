"""The embedded SQLite store: the stdlib driver runs every query; SQLAlchemy Core builds only ``stats``' aggregates."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
