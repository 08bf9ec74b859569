"""The engine's system of record: a DuckDB file, its schema and its queries."""

from engine.store.database import apply_migrations, connect

__all__ = ["apply_migrations", "connect"]
