"""An archive of collected pages and members' addresses is private to its owner by default."""

from __future__ import annotations

import logging
import stat

import pytest

from veille.outputs import digest
from veille.config.settings import SMTP
from veille.errors import VeilleError
from veille.service.scheduler import setup_logging

from conftest import SEEDS


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_archive_is_700_and_its_files_600(cli):
    cli("import", str(SEEDS / "002_cdb768120f0b8caf.txt"))

    assert _mode(cli.archive) == 0o700
    files = [p for p in cli.archive.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"veille.db", "veille.lock"}
    for path in files:
        if path.parent == cli.archive:  # the database, its -wal/-shm, the lock
            assert _mode(path) == 0o600, path
    for folder in (p for p in cli.archive.rglob("*") if p.is_dir()):
        assert _mode(folder) == 0o700, folder


def test_log_files_are_readable_by_their_owner_only(tmp_path):
    path = setup_logging(tmp_path, logging.INFO)
    try:
        logging.getLogger("veille.test").info("hello")
        assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    finally:
        root = logging.getLogger("veille")
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()


def test_an_empty_password_variable_is_not_a_password(monkeypatch):
    monkeypatch.setenv("VEILLE_SMTP_PASSWORD", "")
    smtp = SMTP(host="127.0.0.1", port=1, security="none", username="me", password_env="VEILLE_SMTP_PASSWORD",
                sender="veille@example.org")
    with pytest.raises(VeilleError, match="VEILLE_SMTP_PASSWORD is not set or empty"):
        digest.send(None, smtp, ["a@example.org"])
