"""The archive backends a backend-neutral test runs against.

    @backends.each
    def test_something(archive): ...     # once on SQLite, once on PostgreSQL (skipped without it)
"""

import pytest

NAMES = ("sqlite", "postgresql")

each = pytest.mark.parametrize("archive", NAMES, indirect=True)
