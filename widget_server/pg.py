"""What Deskbell's PostgreSQL stores share: one pooled database and one meaning of its failures.

`Database(url, what="ticket")` connects once to check the schema (tickets/pg_schema.py: a
database behind or ahead of the code stops the start with one line), then lends connections
from a psycopg_pool pool. `transaction()` is a pooled connection in a transaction, committed
when the block ends and rolled back when it raises, with PostgreSQL's failures made Deskbell's
typed errors, the same way for every store:

    no connection within `timeout`, a dropped one, any server error
                        StorageUnavailable naming PostgreSQL (503), the detail in the log
    a full disk         InsufficientStorage (507)
    a value refused     ValidationFailed naming the kind of record (422)

The pool checks each connection before lending it and opens new ones once the server is back,
so no restart is needed. The ticket store (tickets/postgres.py) and the event store
(events/postgres.py) each own one; like them, this module needs the `postgresql` extra and is
imported only when a setting names PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import InsufficientStorage, StorageUnavailable, ValidationFailed
from .tickets import pg_schema


def storable(text: str) -> bool:
    """Whether PostgreSQL text can hold `text`: no NUL character and no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ConnectionLost(StorageUnavailable):
    """The connection died during a transaction: its COMMIT may or may not have landed."""


def _close_elsewhere(pool: ConnectionPool) -> None:
    threading.Thread(target=pool.close, name=f"{pool.name}-closer", daemon=True).start()


class Database:
    """A checked schema and a pool of connections to it, for one kind of record (`what`:
    "ticket", "event"), which the error messages and the log name."""

    def __init__(self, url: str, *, what: str, logger: logging.Logger,
                 schema: str | None = None, min_size: int = 1, max_size: int = 8,
                 timeout: float = 5.0, connect_timeout: int = 5,
                 reconnect_timeout: float = 2.0) -> None:
        """Connect once to check the schema (StorageUnavailable says why not), then pool.

        `schema` overrides the URL's search_path; `timeout` is how long a call waits for a
        connection before answering StorageUnavailable. While PostgreSQL is down the pool
        retries with growing pauses for `reconnect_timeout` seconds, then stops until the
        next call asks for a connection: kept short, so a server that comes back after a long
        outage is found by the next call rather than by a retry minutes away."""
        self.what = what
        self.log = logger
        kwargs: dict[str, Any] = {"connect_timeout": connect_timeout,
                                  "fallback_application_name": "deskbell"}
        if schema is not None:
            if not schema.isidentifier() or not schema.isascii():
                raise StorageUnavailable(f"schema {schema!r} is not a plain SQL identifier")
            kwargs["options"] = f"-csearch_path={schema}"
        with pg_schema.connect(url, **kwargs) as conn:
            pg_schema.require_current(conn)
        self._pool: ConnectionPool = ConnectionPool(
            url, kwargs=kwargs, min_size=min_size, max_size=max_size, timeout=timeout,
            reconnect_timeout=reconnect_timeout, check=ConnectionPool.check_connection,
            name=f"deskbell-{what}s", open=False)
        self._pool.open(wait=False)
        # A store dropped without close() (a CLI command's) still closes its pool. Not on the
        # thread that collects it: the collector may run on one of the pool's own workers,
        # which cannot join themselves, so a thread of its own does it.
        self._closer = weakref.finalize(self, _close_elsewhere, self._pool)

    def close(self) -> None:
        """Close every pooled connection (the database cannot be used afterwards); again:
        nothing."""
        if self._closer.detach() is not None:
            self._pool.close()

    @property
    def unavailable(self) -> str:
        return (f"PostgreSQL, where {self.what}s are kept, cannot be reached right now; "
                "nothing was changed. Please try again shortly.")

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction: committed when the block ends, rolled back
        when it raises. PostgreSQL's own failures become the project's typed errors: no
        connection at all is StorageUnavailable, a connection lost on the way is
        ConnectionLost (a COMMIT may have landed). `timeout` overrides the pool's wait."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout as exc:
            self.log.error("%s store: no PostgreSQL connection (%s)", self.what, exc)
            raise StorageUnavailable(self.unavailable) from None
        except psycopg.errors.DiskFull as exc:
            self.log.error("%s store: PostgreSQL is out of disk space (%s)", self.what, exc)
            raise InsufficientStorage(f"The {self.what} database is out of disk space; nothing "
                                      "was saved. Please try again later.") from None
        except psycopg.DataError as exc:
            problem = f"PostgreSQL refused it ({pg_schema.first_line(exc)})"
            raise ValidationFailed(f"{self.what}: {problem}", {self.what: problem}) from None
        except psycopg.OperationalError as exc:
            self.log.error("%s store: PostgreSQL connection lost: %s", self.what,
                           pg_schema.first_line(exc))
            raise ConnectionLost(self.unavailable) from None
        except psycopg.Error as exc:
            self.log.error("%s store: PostgreSQL failed: %s", self.what,
                           pg_schema.first_line(exc))
            raise StorageUnavailable(self.unavailable) from None

    def check(self) -> None:
        """StorageUnavailable if PostgreSQL cannot be reached or its schema is not current."""
        with self.transaction() as conn:
            pg_schema.require_current(conn)


__all__ = ["ConnectionLost", "Database", "storable"]
