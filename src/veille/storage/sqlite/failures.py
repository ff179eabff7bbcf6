"""SQLite's errors as `StorageError`: every method of the archive raises the one error callers know.

The error raised is both a StorageError and the sqlite3 error it replaces (a StorageOperationalError
is a sqlite3.OperationalError too), with SQLite's own message: what veille records or says of it
reads as before, and code that knows it is speaking to SQLite still can.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3

from veille.errors import StorageError, register_driver_errors

register_driver_errors(sqlite3.DatabaseError)  # raised past the store (a test's stand-in): a storage failure still

_KINDS: dict[type, type] = {}


def storage_error(exc: sqlite3.DatabaseError) -> StorageError:
    """The StorageError for one of SQLite's errors (itself, if it is one already)."""
    if isinstance(exc, StorageError):
        return exc
    kind = _KINDS.get(type(exc))
    if kind is None:
        kind = type(f"Storage{type(exc).__name__}", (StorageError, type(exc)), {"__module__": __name__})
        _KINDS[type(exc)] = kind
    failure = kind(*exc.args)
    for name in ("sqlite_errorcode", "sqlite_errorname"):
        if getattr(exc, name, None) is not None:
            setattr(failure, name, getattr(exc, name))
    return failure


def _converting(function):
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except sqlite3.DatabaseError as exc:
                raise storage_error(exc) from (None if isinstance(exc, StorageError) else exc)
        return generator

    @functools.wraps(function)
    def method(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, StorageError):
                raise
            raise storage_error(exc) from exc
    return method


def converts_errors(cls: type) -> type:
    """The class, its public methods and properties raising StorageError for SQLite's errors."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name == "transaction":  # transaction converts its own
            continue
        if inspect.isfunction(value):
            setattr(cls, name, _converting(value))
        elif isinstance(value, property) and value.fget is not None:
            setattr(cls, name, property(_converting(value.fget), value.fset, value.fdel, value.__doc__))
    return cls
