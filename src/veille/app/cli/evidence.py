"""Evidence: veille warc export, veille verify, and the capture behind veille show --raw."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _catch_up, _check_dates, _check_filters, _n, err, out
from veille.errors import VeilleError

if TYPE_CHECKING:
    from veille.app.cli.main import State
    from veille.storage.warc import CaptureStore


def _store(state: State, *, needed: bool = True) -> "CaptureStore | None":
    """The archive's captures, read-only. None where it keeps none (or, when `needed`, a clear
    error); a damaged index is always an error naming it."""
    from veille.storage.warc import CaptureError, CaptureStore, capture_folder

    folder = capture_folder(state.archive())
    if folder is None or (not needed and not (folder / "captures.db").exists()):
        if needed:
            raise VeilleError("this archive keeps no WARC captures")
        return None
    try:
        return CaptureStore(folder, readonly=True)
    except CaptureError as exc:
        raise VeilleError(str(exc)) from None


@click.group()
def warc() -> None:
    """The pages and feeds as the servers sent them, kept as WARC files.

    Example: veille warc export 'entity:Palantir' --out evidence/palantir.warc.gz
    """


@warc.command("export")
@click.argument("query", required=False, default="")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, metavar="FILE.warc.gz",
              help="The WARC file to write; its CDXJ index goes beside it (FILE.cdxj).")
@click.option("--lang", help="Only articles in this language.")
@click.option("--source", help="Only articles of this source.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD).")
@click.pass_obj
def warc_export(state: State, query: str, out_path: Path, lang: str | None, source: str | None,
                since: str | None, until: str | None) -> None:
    """Write the captures of the articles a query selects (every article without one) as one
    WARC file, with a warcinfo record and a CDXJ index beside it, to replay in pywb or
    ReplayWeb.page.

    Example: veille warc export 'entity:Palantir' --out evidence/palantir.warc.gz
    """
    from veille.app.queries import find_ids, parse_query
    from veille.storage.warc import CaptureError
    from veille.outputs.warc import check_out, export

    _check_dates(since, until)
    try:
        check_out(out_path)
    except CaptureError as exc:
        raise click.BadParameter(str(exc).removeprefix("warc export: "), param_hint="--out") from None
    archive = state.archive()
    lang, source = _check_filters(archive, lang, source)
    store = _store(state)
    try:
        check_out(out_path, store.folder)
    except CaptureError as exc:
        store.close()
        raise click.BadParameter(str(exc).removeprefix("warc export: "), param_hint="--out") from None
    matching = None
    if query.strip():
        tree = parse_query(query)
        _catch_up(archive)
        matching = set(find_ids(archive, None, tree)[0])
    ids = []
    for batch in archive.export_batches(lang=lang, source=source, since=since, until=until, batch=1000):
        ids.extend(a.id for a, _ in batch if matching is None or a.id in matching)
    if not ids:
        err.print("no articles match; nothing written")
        raise click.exceptions.Exit(1)
    try:
        done = export(store, ids, out_path, query=query)
    except (CaptureError, OSError) as exc:
        raise VeilleError(f"warc export: {exc}" if isinstance(exc, OSError) else str(exc)) from None
    finally:
        store.close()
    for line in done.unreadable:
        err.print(f"left out (damaged; `veille verify` says more): {escape(line)}")
    out.print(f"warc export: {_n(done.records, 'record')} ({_n(done.responses, 'response')}) of "
              f"{_n(done.articles, 'article')} to {escape(str(done.warc))}, its index in {escape(str(done.cdxj))}")
    if done.missing:
        out.print(f"  {_n(done.missing, 'article')} selected without a capture (imported from files, archived "
                  "before capture began, or fetched with `capture: none`)")


@click.command()
@click.option("--since", metavar="DATE", help="Only the captures and articles of DATE (YYYY-MM-DD) and after.")
@click.pass_obj
def verify(state: State, since: str | None) -> None:
    """Recompute every capture's digests and every article's content hash; name what does not
    match, one line each (exit 1 if anything does).

    Example: veille verify --since 2026-11-01
    """
    from veille.storage import batches_in_order
    from veille.storage.warc import CaptureError, CaptureStore, capture_folder
    from veille.storage.warc.fixity import orphans, verify as check

    _check_dates(since, None)
    archive = state.archive()
    folder = capture_folder(archive)
    opening: list[str] = orphans(folder)
    store = None
    if folder is not None and (folder / "captures.db").exists():
        try:
            store = CaptureStore(folder, readonly=True)
        except CaptureError as exc:
            opening.append(str(exc))

    def articles():
        for batch, _ in batches_in_order(archive):
            yield from (a for a in batch if not since or (a.fetched or "") >= since)

    try:
        result = check(store, articles(), since=since, revisions=archive.revision_texts())
    finally:
        if store is not None:
            store.close()
    result.problems[:0] = opening
    for problem in result.problems:
        out.print(escape(problem), soft_wrap=True)
    captures = (f"{_n(result.records, 'record')} in {_n(result.files, 'WARC file')}" if store is not None
                else "no captures")
    verdict = "all match" if not result.problems else f"{_n(len(result.problems), 'problem')}"
    texts = _n(result.articles, "article") + (f" ({_n(result.revisions, 'earlier revision')})" if result.revisions else "")
    (err if result.problems else out).print(f"verify: {captures} and {texts} checked: {verdict}")
    if result.problems:
        sys.exit(1)


def print_raw(state: State, article_id: str) -> None:
    """`veille show ID --raw`: the response the article's latest fetch ended on, as the server sent it
    (status line and headers as text, then the body with its Content-Encoding undone)."""
    from veille.storage.warc import CaptureError
    from veille.storage.warc.store import http_parts, parse_member

    store = _store(state, needed=False)
    try:
        record = store.latest(article_id) if store is not None else None
    except CaptureError as exc:
        store.close()
        raise VeilleError(str(exc)) from None
    if record is None:
        raise VeilleError(f"no capture of article {article_id[:12]}: it was imported from a file, archived "
                          "before capture began, or fetched with `capture: none`")
    try:
        _, block = parse_member(store.member(record))
    except (OSError, CaptureError) as exc:
        raise VeilleError(f"the capture of {article_id[:12]} in {record.file} cannot be read ({exc}); "
                          "`veille verify` checks every capture") from None
    finally:
        store.close()
    status, headers, body = http_parts(block)
    head = status + "\n" + "".join(f"{name}: {value}\n" for name, value in headers) + "\n"
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(head.encode("latin-1", "replace") + _decoded(body, {k.lower(): v for k, v in headers}))
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise click.exceptions.Exit(1) from None
    err.print(f"(captured {record.at} from {record.peer or 'an unknown address'}; record {record.id} "
              f"in {record.file})")


def _decoded(body: bytes, headers: dict[str, str]) -> bytes:
    import zlib

    encoding = headers.get("content-encoding", "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error:
        pass  # shown as sent
    return body
