"""Each test in one transaction that is rolled back at its end, instead of deleting every table.

The app's session factory is bound to one connection in an outer transaction; every session joins
it with "create_savepoint", so a commit releases the session's savepoint and a rollback returns to
it, and the after-commit hooks (the outbox dispatch) fire as in production.

One connection differs from the separate connections of production in one way: savepoints nest.
A session that keeps a transaction open (the test's own session after a query) would enclose the
savepoints of the requests made meanwhile, and its rollback would take their commits with it.
So when a session begins, the open transactions of other sessions that wrote nothing are ended
first (committing a transaction that wrote nothing changes nothing); and a rollback that would
still undo another session's commit fails the test, which then needs the `committing` marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
GUARD_KEY = "komma_test_transaction"


@dataclass
class _Savepoint:
    name: str
    session: Session | None = None  # whose transaction this is; None: a savepoint inside a session's transaction
    wrote: bool = False
    encloses_commits: bool = False  # another session committed writes inside it


class SharedConnection:
    """The savepoints on the test's connection, and which session's transaction each one is."""

    def __init__(self, connection: Connection, factory: sessionmaker[Session]) -> None:
        self.stack: list[_Savepoint] = []
        self.ending = False  # the test is over: rolling back across commits is what the teardown wants
        self._listeners: list[tuple[object, str, Callable[..., None]]] = [
            (connection, "before_cursor_execute", self._statement),
            (factory, "after_transaction_create", self._session_begins),
            (factory, "after_begin", self._session_began),
        ]
        for target, name, listener in self._listeners:
            event.listen(target, name, listener)

    def remove(self) -> None:
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)
        self.stack.clear()

    def _session_began(self, session: Session, transaction: SessionTransaction, _conn: Connection) -> None:
        if transaction.parent is None and self.stack:
            self.stack[-1].session = session  # create_savepoint: the savepoint was made just now

    def _statement(self, _conn: Connection, _cursor: object, statement: str, *_rest: object) -> None:
        words = statement.split(maxsplit=3)
        verb = words[0].upper() if words else ""
        if verb == "SAVEPOINT":
            self.stack.append(_Savepoint(words[1]))
        elif verb == "RELEASE":
            self._released(words[-1])
        elif verb == "ROLLBACK" and len(words) == 4:
            self._rolled_back(words[-1])
        elif verb in WRITES and self.stack:
            self.stack[-1].wrote = True

    def _released(self, name: str) -> None:
        released = self._pop(name)
        if released is None or not released.wrote:
            return
        if released.session is None:
            if self.stack:
                self.stack[-1].wrote = True  # a session's inner savepoint: its writes are the session's
            return
        for enclosing in self.stack:
            if enclosing.session is not None and enclosing.session is not released.session:
                enclosing.encloses_commits = True

    def _rolled_back(self, name: str) -> None:
        target = next((s for s in self.stack if s.name == name), None)
        if target is not None and target.session is not None and target.encloses_commits and not self.ending:
            raise AssertionError(
                "a session rolls back its transaction after other sessions committed inside it: on the "
                "test's one connection that would undo their commits too. End the session's transaction "
                "before the other work, or mark the test @pytest.mark.committing."
            )
        self._pop(name)

    def _session_begins(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is not None:
            return
        # End the open transactions of other sessions that wrote nothing, innermost first, so that the
        # new session's savepoint does not nest inside them.
        while self.stack:
            top = self.stack[-1]
            other = top.session
            if other is None or other is session or top.wrote or other.new or other.dirty or other.deleted:
                return
            current = other.get_transaction()
            if current is None or not current.is_active:
                return
            other.commit()
            if self.stack and self.stack[-1] is top:
                return  # not released after all: leave the rest alone

    def _pop(self, name: str) -> _Savepoint | None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].name == name:
                found = self.stack[index]
                del self.stack[index:]
                return found
        return None


@contextmanager
def rolled_back(app: Flask) -> Iterator[Connection]:
    """Run the app's sessions on one connection in an outer transaction, rolled back at the end."""
    state = app.extensions["komma"]
    factory = state.session_factory
    connection = state.engine.connect()
    sqlite = connection.dialect.name == "sqlite"
    driver_connection: Any = connection.connection.driver_connection
    if sqlite:
        # pysqlite begins and ends transactions on its own and would break SAVEPOINT: hand it over
        # to SQLAlchemy and emit BEGIN ourselves (SQLAlchemy's pysqlite notes, "Serializable
        # isolation / Savepoints / Transactional DDL").
        driver_connection.isolation_level = None
    transaction = connection.begin()
    if sqlite:
        connection.exec_driver_sql("BEGIN")
    configured = dict(factory.kw)
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    shared = SharedConnection(connection, factory)
    app.extensions[GUARD_KEY] = shared
    try:
        yield connection
    finally:
        shared.ending = True
        shared.remove()
        del app.extensions[GUARD_KEY]
        factory.kw = configured
        transaction.rollback()
        if sqlite:
            driver_connection.isolation_level = ""  # pysqlite's default again, before the pool reuses it
        connection.close()


@contextmanager
def ending_test(app: Flask) -> Iterator[None]:
    """A fixture's teardown: its session may roll back whatever was done inside it."""
    shared: SharedConnection | None = app.extensions.get(GUARD_KEY)
    if shared is not None:
        shared.ending = True
    yield
