"""MongoDB store: not built yet (see the MongoDB issue)."""

from queuectl.domain.errors import UnsupportedStore


class MongoStore:
    def __init__(self, url: str) -> None:
        raise UnsupportedStore("the MongoDB store is not available in this version; use sqlite:///PATH")
