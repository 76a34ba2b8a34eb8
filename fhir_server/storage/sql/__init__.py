"""SQLAlchemy 2 Core storage for SQLite (embedded default) and PostgreSQL (production)."""

from .database import SqlDatabase

__all__ = ["SqlDatabase"]
