"""The PostgreSQL store: the SQLite adapter's SQL on psycopg 3, with PostgreSQL's claims and locks."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
