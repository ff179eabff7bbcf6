"""Moving an archive: veille archive copy SRC DEST (SQLite into PostgreSQL, and back)."""

from __future__ import annotations

import click

from rich.markup import escape

from veille.app.cli.common import err, out
from veille.errors import VeilleError


@click.group()
def archive() -> None:
    """Move an archive between a folder (SQLite) and a PostgreSQL database, either way.

    Example: veille archive copy archive postgresql://veille@db.example/veille
    """


@archive.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("dest", metavar="DEST")
@click.option("--batch", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="Rows per transaction of the destination.")
def copy(source: str, dest: str, batch: int) -> None:
    """Copy the archive SRC into DEST (a folder, sqlite:///PATH or postgresql://...): sources, articles
    with their revisions, entities, tags, fingerprints, stories, feed entries, failures, saved
    searches and digests sent. DEST must be empty, or a copy from SRC that was cut short: it goes on
    where it stopped. Every table's rows are counted on both sides at the end. Both archives are
    locked while it runs. The search index of DEST is built by its next writer (or `veille reindex`).

    Example: veille archive copy archive postgresql://veille@127.0.0.1/veille
    """
    from veille.storage import archive_exists, open_archive, writer_lock
    from veille.storage.copy import copy_archive

    if not archive_exists(source):
        raise VeilleError(f"archive copy: no archive at {source}; give the archive to copy first")
    if _same(source, dest):
        raise VeilleError("archive copy: SRC and DEST are the same archive")
    with writer_lock(source, "archive-copy"), writer_lock(dest, "archive-copy"):
        with open_archive(source) as src, open_archive(dest) as dst:
            last = {}

            def progress(table: str, rows: int) -> None:
                if rows // 5000 != last.get(table, 0) // 5000:
                    err.print(f"  {table}: {rows} rows")
                last[table] = rows

            report = copy_archive(src, dst, batch=batch, progress=progress)
            if report.differences:
                raise VeilleError("archive copy: the counts differ after the copy (" + "; ".join(report.differences)
                                  + "); run the same command again to go on")
            articles = report.counts["articles"][1]
            stories = report.counts["stories"][1]
            again = " (a copy cut short, finished)" if report.resumed else ""
            out.print(escape(f"copied {src.location} into {dst.location}{again}: {articles} articles, "
                             f"{report.counts['revisions'][1]} earlier revisions, {stories} stories, "
                             f"{report.counts['sources'][1]} sources; every table's rows counted on both sides"))


def _same(one: str, other: str) -> bool:
    from veille.storage import is_server, sqlite_folder
    from veille.storage.postgres.connect import normalised

    if is_server(one) or is_server(other):
        return is_server(one) and is_server(other) and normalised(one).rstrip("/") == normalised(other).rstrip("/")
    return sqlite_folder(one).resolve() == sqlite_folder(other).resolve()
