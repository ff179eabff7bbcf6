"""The one exception tree of veille.

    VeilleError                 anything veille reports to a user as one line
    ├── ConfigError             feeds.yaml is missing or invalid (exit status 2)
    ├── ArchiveError            the archive cannot be opened or is from a newer veille
    │   └── NoArchiveError      there is no archive where a reader was pointed (exit status 2)
    ├── ArchiveBusyError        another writer holds the archive's lock (exit status 2)
    ├── LockFileError           the archive's lock file cannot be made or opened (exit status 2)
    ├── StorageError            the archive's database failed: a full or read-only disk, a damaged
    │                           file, a lock held too long (exit status 74)
    ├── FetchError              a URL could not be fetched (kept on the item, never fatal)
    │   ├── BlockedURLError     the URL is not allowed (scheme, ...) and was not requested
    │   └── DeferredError       not requested now on purpose (Retry-After, robots.txt unavailable)
    ├── FeedError               a feed body could not be parsed into entries
    ├── ExtractError            no article could be extracted from a document
    ├── ImportPathError         a path given to `veille import` cannot be read
    ├── ImportFileError         a file met by `veille import` is not one it reads (a FIFO, too large)
    ├── MailError               the SMTP password is not set (net.mail)
    │   ├── MailSendError       the SMTP server cannot be reached, or refused the login or the message
    │   └── MailRefusedError    the SMTP server refused every recipient
    ├── DigestError             a digest cannot be sent (no smtp section, password unset, server refused)
    ├── ExportError             an export cannot be written (exit status 2)
    ├── QueryError              a search query cannot be read or is too long (exit status 2)
    ├── IndexDamagedError       the search index is missing, unreadable or in an older layout
    └── SearchDatabaseError     the PostgreSQL search index cannot be used: the server cannot be
                                reached, the unaccent extension is missing, its tables are from a
                                newer veille (exit status 2)

Every message is one line that says what went wrong and what to do.
"""

from __future__ import annotations

import errno


class VeilleError(Exception):
    """Base class: the message is shown to the user as it is."""

    exit_code = 1


class ConfigError(VeilleError):
    exit_code = 2


class ArchiveError(VeilleError):
    exit_code = 1


class NoArchiveError(ArchiveError):
    """A reader was pointed at a folder that holds no archive (a typo, most likely)."""

    exit_code = 2


class ArchiveBusyError(VeilleError):
    exit_code = 2


class LockFileError(VeilleError):
    """The lock file cannot be made or opened (the archive path is a file, veille.lock a folder...)."""

    exit_code = 2


class StorageError(VeilleError):
    """The archive's database failed while in use. The message is the database's own words
    ("database or disk is full"); the command line says what to do about it. Raised by the store for
    every error of its database (storage/sqlite/failures.py)."""

    exit_code = 74


class ServerGoneError(StorageError):
    """The archive's database server stopped answering mid-command (PostgreSQL stopped, the network
    down). The transaction in hand was rolled back by the server: nothing is half-stored."""


class ArchiveConnectError(ArchiveError):
    """An archive server that cannot be used: a wrong address, a refused password, a missing
    extension, a database written by a newer veille. One line, exit 2."""

    exit_code = 2


class FetchError(VeilleError):
    """A fetch failed. `reason` is short and stable ("http 404", "timeout", ...)."""

    def __init__(self, reason: str, url: str, detail: str = "", *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.reason = reason
        self.url = url
        self.detail = detail
        self.status = status  # the HTTP status, when the server answered
        self.retry_after = retry_after  # seconds the server asked us to wait (429, 503)
        super().__init__(f"fetch: {reason}: {url}" + (f" ({detail})" if detail else ""))

    @property
    def summary(self) -> str:
        """The reason with its detail, without the URL: "http 404 (the page is gone; ...)"."""
        return self.reason + (f" ({self.detail})" if self.detail else "")


class BlockedURLError(FetchError):
    pass


class DeferredError(FetchError):
    """Not fetched now, on purpose (the host asked us to wait, robots.txt is unavailable): try later."""


class FeedError(VeilleError):
    pass


class ExtractError(VeilleError):
    pass


class ImportPathError(VeilleError):
    exit_code = 2


class ImportFileError(VeilleError):
    """Recorded on the file, like an extraction failure; the import goes on."""


class MailError(VeilleError):
    pass


class MailSendError(MailError):
    pass


class MailRefusedError(MailError):
    """`refused` maps each address to the server's code and reason ("550 no such user")."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        said = "; ".join(f"{address}: {reason}" for address, reason in refused.items())
        super().__init__(f"smtp: every recipient was refused ({said})")


class DigestError(VeilleError):
    pass


class CaptureError(VeilleError):
    """A WARC capture that cannot be written or read back."""


class ExportError(VeilleError):
    exit_code = 2


class QueryError(VeilleError):
    """What in the query cannot be read, and where ("unclosed quote at character 12")."""

    exit_code = 2


class IndexDamagedError(VeilleError):
    exit_code = 1


class SearchDatabaseError(VeilleError):
    """The PostgreSQL search index cannot be opened; the message names the server and what to do."""

    exit_code = 2


class BrokerError(VeilleError):
    """The broker (settings.broker, VEILLE_BROKER) cannot be reached or refused us: one line naming it."""

    exit_code = 2


class JobFailedError(VeilleError):
    """A job on the queue that did not do its work (its source failed): retried, then quarantined."""


STORAGE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO))  # the disk, not the data
_STORAGE_WORDS = ("full", "readonly", "read-only", "disk i/o", "unable to open", "malformed", "not a database")


_DRIVER_ERRORS: list[type[BaseException]] = []  # a backend's own error types, should one get past its store


def register_driver_errors(*kinds: type[BaseException]) -> None:
    """A storage backend names its database driver's errors (without this module importing the driver)."""
    _DRIVER_ERRORS.extend(kind for kind in kinds if kind not in _DRIVER_ERRORS)


def is_storage_error(exc: BaseException) -> bool:
    """An error of the archive's database: a StorageError, or a driver's error raised past the store."""
    return isinstance(exc, (StorageError, *_DRIVER_ERRORS))


def is_storage_failure(exc: BaseException) -> bool:
    """The disk or the database file failed (full, read-only, I/O error, damaged), not the article or the
    code. A run stops on these: going on would only fail every article the same way."""
    if isinstance(exc, ServerGoneError):
        return True
    if is_storage_error(exc):
        return any(word in str(exc).lower() for word in _STORAGE_WORDS)
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_advice(problem: str) -> str:
    """What to do about a storage failure, from the words that describe it."""
    problem = problem.lower()
    if "full" in problem or "space" in problem or "quota" in problem:
        return "free some disk space, then run the command again"
    if "read-only" in problem or "readonly" in problem or "permission" in problem or "not permitted" in problem:
        return "make the archive folder and its files writable by this user, then run the command again"
    if "locked" in problem or "busy" in problem:
        return "another program holds the database; try again in a moment"
    if "malformed" in problem or "not a database" in problem or "corrupt" in problem:
        return ("the database is damaged: copy the archive folder first, then save what can be read with "
                "`sqlite3 veille.db .recover | sqlite3 recovered.db` and use the new file as veille.db")
    return "check the disk and the archive folder, then run the command again"
