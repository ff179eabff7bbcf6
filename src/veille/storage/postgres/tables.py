"""The PostgreSQL archive's tables read and written as rows, for `veille archive copy` (storage/tables.py).

An article row gets what PostgreSQL adds to it: its month partition and its `seen_url` row."""

from __future__ import annotations

from veille.storage.postgres.base import Part, converts_errors
from veille.storage.postgres.schema import partition_ddl
from veille.storage.tables import Table


@converts_errors
class Tables(Part):
    def table_rows(self, table: Table, after: tuple | None, batch: int) -> list[dict]:
        columns = ", ".join(table.columns)
        if not table.key:
            return self._rows(f"SELECT {columns} FROM {table.name} ORDER BY seq LIMIT %s OFFSET %s",
                              (batch, after[0] if after else 0))
        key = ", ".join(table.key)
        where = f"WHERE ({key}) > ({', '.join(['%s'] * len(table.key))})" if after else ""
        return self._rows(f"SELECT {columns} FROM {table.name} {where} ORDER BY {key} LIMIT %s",
                          (*(after or ()), batch))

    def put_rows(self, table: Table, rows: list[dict]) -> None:
        columns = list(table.columns)
        values = [[row[c] for c in table.columns] for row in rows]
        conflict = " ON CONFLICT DO NOTHING" if table.key else ""
        with self.transaction():
            if table.name == "articles":
                for month in sorted({_month(row) for row in rows}):
                    self._run(partition_ddl(month[:7]))
                self._many("INSERT INTO seen_url (article_id, url, fetched_month) VALUES (%s, %s, %s) "
                           "ON CONFLICT DO NOTHING", [(row["id"], row["url"], _month(row)) for row in rows])
                columns.append("fetched_month")
                for row, value in zip(rows, values):
                    value.append(_month(row))
            marks = ", ".join(["%s"] * len(columns))
            self._many(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}){conflict}", values)
            if table.name == "digest_sends":  # ids given: the identity goes on after the largest
                self._run("SELECT setval(pg_get_serial_sequence('digest_sends', 'id'), "
                          "GREATEST((SELECT MAX(id) FROM digest_sends), 1))")

    def table_count(self, table: Table) -> int:
        return self._value(f"SELECT COUNT(*) AS n FROM {table.name}")


def _month(row: dict) -> str:
    """The month partition of an article: that of its first fetch ('2026-12-01')."""
    return f"{(row['first_seen'] or row['fetched'])[:7]}-01"
