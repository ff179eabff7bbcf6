"""Part of the PostgreSQL archive (being written: see storage/sqlite/records.py for what each method does)."""

from __future__ import annotations

from veille.storage.postgres.base import Part, converts_errors


@converts_errors
class Records(Part):
    pass
