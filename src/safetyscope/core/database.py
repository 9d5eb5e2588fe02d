"""Opening a SQLAlchemy database and applying an append-only migration list: shared by the results store
and the guard store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from safetyscope.core.errors import StoreError


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def database_url(location: str) -> str:
    """A SQLAlchemy URL for a path or URL; ``postgresql://`` uses the psycopg 3 driver."""
    if "://" not in location:
        path = Path(location).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if location.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + location.split("://", 1)[1]
    return location


def open_engine(location: str, *, what: str) -> Engine:
    """An engine for a path or URL; SQLite connections get WAL and friends."""
    try:
        # hide_parameters: errors (and so logs) never carry the values written, e.g. prompt text
        engine = create_engine(database_url(location), pool_pre_ping=True, hide_parameters=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot open {what} {location}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def apply_migrations(engine: Engine, migrations: Sequence[Sequence[str]], *, version_table: str,
                     what: str) -> int:
    """Apply the migrations not yet recorded in ``version_table``; returns the schema version."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {version_table} "
                              "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"))
            current = conn.execute(text(f"SELECT MAX(version) FROM {version_table}")).scalar() or 0
            if current > len(migrations):
                raise StoreError(f"{what} {url} has schema version {current}, newer than this "
                                 f"safetyscope ({len(migrations)}); upgrade safetyscope")
            for version in range(current + 1, len(migrations) + 1):
                for statement in migrations[version - 1]:
                    conn.execute(text(statement))
                conn.execute(text(f"INSERT INTO {version_table} (version, applied_at) VALUES (:v, :t)"),
                             {"v": version, "t": utc_now()})
    except OperationalError as exc:
        raise StoreError(f"cannot use {what} {url}: {exc.orig}") from None
    return len(migrations)


class MigratedDatabase:
    """Base of the stores: opened from a path or URL, migrated on open by its own migration list."""

    migrations: ClassVar[Sequence[Sequence[str]]]
    version_table: ClassVar[str]
    what: ClassVar[str]

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, location: str) -> Self:
        """Open (and migrate) the database at a path or SQLAlchemy URL."""
        database = cls(open_engine(location, what=cls.what))
        database.migrate()
        return database

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def migrate(self) -> int:
        """Apply migrations not yet applied; returns the schema version."""
        return apply_migrations(self._engine, self.migrations, version_table=self.version_table, what=self.what)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")  # fewer, larger checkpoints: far fewer bytes written
    cursor.close()
