"""The MongoDB store (pymongo): the primary, networked store."""

from .store import MongoStore

__all__ = ["MongoStore"]
