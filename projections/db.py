"""The read-model store: SQLite (aiosqlite, the default) or PostgreSQL (asyncpg), one SQL dialect.

Projections write PostgreSQL-style SQL (``$1`` placeholders, ``FOR UPDATE``) plus
``COLLATE BINARY`` for byte-ordered text columns; each backend translates the few differences in
one cached function. Driver errors leave this module as ``DatabaseError`` and its subclasses.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import aiosqlite
import asyncpg

Dialect = Literal["sqlite", "postgresql"]
Row = dict[str, Any]


class DatabaseError(Exception):
    """Base of every read-model store failure."""


class IntegrityError(DatabaseError):
    """A constraint (primary key, unique, not null) rejected a write."""


class OperationalError(DatabaseError):
    """The store is unreachable, locked or misconfigured; retrying later may help."""


class Reader(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


class Tx(Reader, Protocol):
    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...


class Database(Reader, Protocol):
    dialect: Dialect
    url: str

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...
    async def close(self) -> None: ...


async def open_database(url: str, *, schema: str | None = None, readers: int = 3) -> Database:
    """``sqlite:///abs/path.db`` or ``postgresql://user@host:port/db``; ``schema`` (PostgreSQL
    only) is created if missing and becomes the search_path of every connection. ``readers``:
    SQLite read connections beside the one writer; on PostgreSQL the pool holds readers + 2."""
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url, schema=schema, max_size=readers + 2)
    if url.startswith("sqlite:///"):
        if schema is not None:
            raise ValueError("schema= applies to PostgreSQL only; use a fresh SQLite file")
        return await SqliteDatabase.open(url, readers=readers)
    raise ValueError(f"unsupported database url {url!r}: use sqlite:///path or postgresql://...")


def _first(row: Row | None) -> Any:
    return None if row is None else next(iter(row.values()))


# ---------------------------------------------------------------- SQLite


_PLACEHOLDER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=512)
@lru_cache(maxsize=1024)
def _sqlite_sql(sql: str) -> str:
    # ?NNN binds by position like $NNN, so reordered or repeated parameters keep working; the
    # writer holds the whole database with BEGIN IMMEDIATE, so row locks are meaningless here.
    return _PLACEHOLDER.sub(r"?\1", sql).replace(" FOR UPDATE", "")


def _sqlite_error(exc: sqlite3.Error) -> DatabaseError:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(str(exc))
    if isinstance(exc, sqlite3.OperationalError):
        return OperationalError(str(exc))
    return DatabaseError(str(exc))


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


class SqliteConnection:
    """The writer connection, speaking the shared dialect.

    Statements run inline on the event loop's thread, like the reader's: a projection's batch is
    a few dozen point updates of tens of microseconds each, and a hop to a worker thread per
    statement cost more than the statements (the projector spent most of its CPU handing work
    over). Only what can wait runs on aiosqlite's thread (``SqliteDatabase.transaction``): taking
    the write lock, which may wait for another process, and the commit, which may checkpoint.
    Both never run at the same time: the database's lock serialises transactions."""

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._aio = conn
        # aiosqlite's own sqlite3 connection, opened with check_same_thread=False.
        self._conn: sqlite3.Connection = conn._conn

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            self._conn.execute(_sqlite_sql(sql), args)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(_sqlite_sql(sql), args)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return cast(list[Row], self._conn.execute(_sqlite_sql(sql), args).fetchall())
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return _first(await self.fetchrow(sql, *args))

    async def off_loop(self, sql: str) -> None:
        """A statement that may block (waiting for a lock, checkpointing), on a worker thread."""
        try:
            await self._aio.execute_fetchall(sql)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    async def close(self) -> None:
        await self._aio.close()


class InlineReader:
    """A read-only connection queried on the event loop's own thread.

    Read-model queries are point lookups and short index range scans of tens of microseconds; a
    hop to a worker thread and back costs more than the query, and in WAL mode a reader never
    waits for a writer. So the API's reads run inline."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        self._conn.row_factory = _dict_row
        self._conn.execute("PRAGMA busy_timeout = 10000")
        self._conn.execute("PRAGMA query_only = 1")

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return cast(list[Row], self._conn.execute(_sqlite_sql(sql), args).fetchall())
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return _first(await self.fetchrow(sql, *args))

    def close(self) -> None:
        self._conn.close()


class SqliteDatabase:
    """One writer connection (aiosqlite, behind a lock) and an inline reader: in WAL mode readers
    see the last commit and never wait for the writer."""

    dialect: Dialect = "sqlite"

    def __init__(self, url: str, writer: SqliteConnection, reader: InlineReader) -> None:
        self.url = url
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, readers: int) -> SqliteDatabase:
        path = Path(url.removeprefix("sqlite://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        try:
            conn.row_factory = _dict_row  # type: ignore[assignment]
            # Read models are rebuildable from the log, so NORMAL (no fsync per commit) is
            # enough; busy_timeout lets a second writer process wait instead of failing.
            await conn.execute_fetchall("PRAGMA busy_timeout = 10000")
            await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
            await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            reader = InlineReader(path)
        except sqlite3.Error as exc:
            await conn.close()
            raise _sqlite_error(exc) from exc
        return cls(url, SqliteConnection(conn), reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            # IMMEDIATE takes the write lock up front, so concurrent projectors (other processes)
            # serialise on BEGIN rather than failing with SQLITE_BUSY at the first write.
            await self._writer.off_loop("BEGIN IMMEDIATE")
            try:
                yield self._writer
                await self._writer.off_loop("COMMIT")
            except BaseException:
                # SQLite may already have rolled back on its own (disk full, interrupt)
                with suppress(DatabaseError):
                    await self._writer.execute("ROLLBACK")
                raise

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._reader.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._reader.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._reader.fetchval(sql, *args)

    async def close(self) -> None:
        self._reader.close()
        await self._writer.close()


# ---------------------------------------------------------------- PostgreSQL


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("COLLATE BINARY", 'COLLATE "C"')


# Worth a retry: deadlock or serialization failure, lost connection, server starting/stopping.
_PG_TRANSIENT = (
    asyncpg.TransactionRollbackError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
)


def _pg_error(exc: Exception) -> DatabaseError:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(text)
    if isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, _PG_TRANSIENT):
        return DatabaseError(text)
    return OperationalError(text)


_PG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)


class PostgresConnection:
    dialect: Dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        # A pool has the same query methods; each call then takes a connection of its own.
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._conn.execute(_pg_sql(sql), *args)
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(_pg_sql(sql), args)
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return [dict(r) for r in await self._conn.fetch(_pg_sql(sql), *args)]
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row = await self._conn.fetchrow(_pg_sql(sql), *args)
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc
        return None if row is None else dict(row)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._conn.fetchval(_pg_sql(sql), *args)
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, pool: asyncpg.Pool, schema: str | None) -> None:
        self.url = url
        self.schema = schema
        self._pool = pool
        self._reader = PostgresConnection(pool)

    @classmethod
    async def open(cls, url: str, *, schema: str | None, max_size: int) -> PostgresDatabase:
        settings = {"search_path": _quote_ident(schema)} if schema else {}
        try:
            if schema:
                conn = await asyncpg.connect(url)
                try:
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(schema)}")
                finally:
                    await conn.close()
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max_size, server_settings=settings
            )
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc
        return cls(url, pool, schema)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        # Only the driver's own calls are translated: the body's errors pass through unchanged.
        try:
            conn = await self._pool.acquire()
        except _PG_ERRORS as exc:
            raise _pg_error(exc) from exc
        try:
            tx = conn.transaction()
            try:
                await tx.start()
            except _PG_ERRORS as exc:
                raise _pg_error(exc) from exc
            try:
                yield PostgresConnection(conn)
            except BaseException:
                with suppress(*_PG_ERRORS):
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except _PG_ERRORS as exc:
                raise _pg_error(exc) from exc
        finally:
            await self._pool.release(conn)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._reader.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._reader.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._reader.fetchval(sql, *args)

    async def close(self) -> None:
        await self._pool.close()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
