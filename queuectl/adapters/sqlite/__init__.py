"""The embedded SQLite store: SQLAlchemy Core for the schema and operators, the stdlib driver for the hot paths."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
