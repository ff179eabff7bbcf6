"""The SQLite archive's tables read and written as rows, for `veille archive copy` (storage/tables.py)."""

from __future__ import annotations

from veille.storage.sqlite.base import Part
from veille.storage.sqlite.failures import converts_errors
from veille.storage.tables import Table


@converts_errors
class Tables(Part):
    def table_rows(self, table: Table, after: tuple | None, batch: int) -> list[dict]:
        """Up to `batch` rows after `after` (a key, or for a table without one the number of rows
        already read), in key order (insertion order without a key)."""
        columns = ", ".join(table.columns)
        if not table.key:
            rows = self.db.execute(f"SELECT {columns} FROM {table.name} ORDER BY rowid LIMIT ? OFFSET ?",
                                   (batch, after[0] if after else 0)).fetchall()
        else:
            key = ", ".join(table.key)
            where = f"WHERE ({key}) > ({', '.join('?' * len(table.key))})" if after else ""
            rows = self.db.execute(f"SELECT {columns} FROM {table.name} {where} ORDER BY {key} LIMIT ?",
                                   (*(after or ()), batch)).fetchall()
        return [dict(row) for row in rows]

    def put_rows(self, table: Table, rows: list[dict]) -> None:
        """Write rows, in one transaction; a row whose key is already there is left as it is."""
        columns = ", ".join(table.columns)
        marks = ", ".join("?" * len(table.columns))
        verb = "INSERT OR IGNORE" if table.key else "INSERT"
        with self.transaction():
            self.db.executemany(f"{verb} INTO {table.name} ({columns}) VALUES ({marks})",
                                [tuple(row[c] for c in table.columns) for row in rows])

    def table_count(self, table: Table) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()[0]
