"""The `veille` command: parse options, call one library function, format the answer.

Tables and progress bars are for people (on stderr when they are progress);
`--json` prints JSON Lines (one object for `show`) for programs. Every error
reaches the user as one line, `veille: ...`, with what to do.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from veille import __version__
from veille.stages import health
from veille import pipeline
from veille.config.settings import Config, Settings, load_config
from veille.errors import (STORAGE_ERRNOS, ArchiveError, NoArchiveError, StorageError, VeilleError, is_storage_error,
                           storage_advice)
from veille.models import Article
from veille.storage import Archive, open_archive, writer_lock
from veille.storage.sqlite.store import DB_NAME

out = Console(highlight=False, soft_wrap=True)  # long lines stay whole when piped
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line, whatever the width

STORY_FIELDS = ("story_id", "relation", "original_id")
MAX_COUNT = 1_000_000  # --limit, --top, --page: more than an archive lists at once (SQLite's integers end at 2**63)
JSON_FIELDS = (
    "id", "url", "canonical_url", "source", "title", "author", "published", "fetched",
    "lang", "lang_confidence", "lang_reason", "site_name", "description", "origin", "note",
    "revision", "text_hash",
)


class VeilleGroup(click.Group):
    """Turns every VeilleError into one line and an exit status, never a traceback."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """As click's, except that a usage error (an unknown command or option, a bad value) is one
        line with where to look, like every other error, instead of click's three-line usage."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            returned = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            where = " ".join(["veille", *(exc.ctx.command_path.split()[1:] if exc.ctx else [])])
            message = exc.format_message().rstrip(".")
            if exc.ctx and exc.ctx.command is self and "No such command" in message:
                message += "; the commands are listed by `veille --help`"
            else:
                message += f"; see `{where} --help`"
            click.echo(f"veille: {message}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(returned if isinstance(returned, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StorageError as exc:  # the disk, not the code: said below, as any storage failure
            return self._storage_failed(ctx, exc)
        except VeilleError as exc:
            click.echo(f"veille: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("veille: interrupted; what was stored so far is kept", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: still one line, with a way to get the details
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if is_storage_error(exc):
                return self._storage_failed(ctx, exc)
            if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
                click.echo(f"veille: cannot write {exc.filename or 'to the archive'} ({exc.strerror}); "
                           f"{storage_advice(exc.strerror or '')}; what was stored before is kept", err=True)
                ctx.exit(74)
            click.echo(
                f"veille: internal error ({type(exc).__name__}: {exc}); run again with --debug for details "
                "and report it", err=True,
            )
            ctx.exit(70)

    @staticmethod
    def _storage_failed(ctx: click.Context, exc: Exception) -> None:
        """The disk, not the code: full, read-only, not ours. The database rolls back the transaction in hand."""
        if ctx.obj and ctx.obj.get("debug"):
            raise exc
        click.echo(f"veille: the archive could not be written or read ({exc}); "
                   f"{storage_advice(str(exc))}; what was stored before is kept", err=True)
        ctx.exit(74)


_STORAGE_ERRNOS = STORAGE_ERRNOS | {errno.EACCES, errno.EPERM}  # and an archive this user may not write


class State(dict):
    """What the global options give every command."""

    def archive(self, create: bool = False) -> Archive:
        """The archive; only the commands that fill it (`create`: fetch, import, run) may make a new one,
        so a mistyped --archive is said, not answered with an empty archive made on the spot."""
        if "_archive" not in self:
            folder = Path(self["archive_path"])
            if folder.exists() and not folder.is_dir():
                raise NoArchiveError(f"{folder} is a file, not an archive folder; give the right --archive")
            if not create and not self.has_archive():
                raise NoArchiveError(f"no archive at {folder} (create one with `veille import PATH` or "
                                     "`veille fetch`; or give the right --archive)")
            self["_archive"] = open_archive(folder)
        return self["_archive"]

    def has_archive(self) -> bool:
        return "_archive" in self or (Path(self["archive_path"]) / DB_NAME).exists()

    def config(self) -> Config:
        if "_config" not in self:
            self["_config"] = load_config(self["config_path"])
        return self["_config"]

    def writer(self, command: str, create: bool = False) -> Archive:
        """The archive, for a command that writes it in bulk: one such command at a time."""
        if "_lock" not in self:
            # An archive to make: the lock first. Else the archive first: it says so if there is none,
            # before the lock makes its folder.
            lock = writer_lock(self["archive_path"], command) if create else self.archive().writer_lock(command)
            self["_lock"] = lock.acquire()
        return self.archive(create)

    def close(self) -> None:
        if "_archive" in self:
            self["_archive"].close()
        if "_lock" in self:
            self["_lock"].release()


@click.group(cls=VeilleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--archive", "archive_path", type=click.Path(path_type=Path), default="archive",
              envvar="VEILLE_ARCHIVE", show_default=True, show_envvar=True,
              help="Archive folder (database, raw pages, index).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default="feeds.yaml",
              envvar="VEILLE_CONFIG", show_default=True, show_envvar=True,
              help="Sources file.")
@click.option("--debug", is_flag=True, help="Log details and show tracebacks.")
@click.version_option(__version__, prog_name="veille")
@click.pass_context
def main(ctx: click.Context, archive_path: Path, config_path: Path, debug: bool) -> None:
    """veille: a multilingual media-monitoring pipeline and article archive.

    Example: veille fetch && veille list --lang fr
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    state = State(archive_path=archive_path, config_path=config_path, debug=debug)
    ctx.obj = state
    ctx.call_on_close(state.close)


@main.command()
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def fetch(state: State, sources: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Fetch every enabled source once: feeds, their new articles, pages.

    Example: veille fetch --source "La Quadrature du Net"
    """
    config = state.config()
    archive = state.writer("fetch", create=True)
    started = time.monotonic()
    with _progress(quiet or as_json, "fetching") as progress:
        report = pipeline.fetch_sources(config, archive, names=sources or None, progress=progress)
    _print_summary("fetch", report, time.monotonic() - started, as_json)


@main.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def import_(state: State, paths: tuple[Path, ...], quiet: bool, as_json: bool) -> None:
    """Import local files and folders (.html, .htm, .txt, .md) into the archive.

    Example: veille import seeds/ saved-page.html
    """
    missing = [path for path in paths if not path.exists() and not path.is_symlink()]
    if missing and len(missing) < len(paths):  # import what exists, report the rest (all missing: one line, exit 2)
        paths = tuple(path for path in paths if path not in missing)
    else:
        missing = []
    archive = state.writer("import", create=True)
    started = time.monotonic()
    with _progress(quiet or as_json, "importing") as progress:
        config = _optional_config(state)
        taggers = pipeline.Taggers(config, archive)
        report = pipeline.import_paths(paths, archive, taggers=taggers, progress=progress,
                                       stories=config.dedupe if config else None,
                                       max_bytes=config.settings.max_body if config else pipeline.MAX_IMPORT_BYTES)
    for path in missing:
        report.fail(pipeline.IMPORT_SOURCE, str(path), "does not exist; check the path")
    _print_summary("import", report, time.monotonic() - started, as_json)
    if missing:
        raise click.exceptions.Exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per source, then totals.")
@click.pass_obj
def status(state: State, as_json: bool) -> None:
    """Show each source's articles, last fetch and last error, and totals by language.

    Example: veille status
    """
    config = _optional_config(state)  # a broken feeds.yaml is said first, archive or not
    archive = state.archive()
    rows = {row["name"]: dict(row) for row in archive.source_rows()}
    counts = archive.counts_by_source()
    failures = archive.count_failures_by_source()
    names = [s.name for s in config.sources] if config else []
    names += sorted(n for n in set(rows) | set(counts) if n not in names)
    enabled = {s.name: s.enabled for s in config.sources} if config else {}
    records = []
    for name in names:
        row = rows.get(name, {})
        records.append({
            "source": name,
            "enabled": enabled.get(name, name in rows or name in counts),
            "articles": counts.get(name, 0),
            "failed_items": failures.get(name, 0),
            "last_fetch": row.get("last_fetch"),
            "last_success": row.get("last_success"),
            "last_status": row.get("last_status"),
            "last_error": row.get("last_error"),
            "consecutive_failures": row.get("consecutive_failures", 0),
            "health": row.get("health", 0.0),
            "failing_since": row.get("failing_since"),
            "paused_since": row.get("paused_since"),
            "next_attempt": row.get("next_attempt"),
            "error_kind": row.get("error_kind"),
            "advice": health.advice(row.get("error_kind")) if row.get("last_error") else None,
            "moved_to": row.get("moved_to"),
        })
    digests = archive.digest_rows()
    by_lang = archive.counts_by_lang()
    recent_failures = [dict(r) for r in archive.failures(limit=20)]
    taggers = archive.tagger_counts()
    paced = _crawl_delays(archive, config.settings if config else Settings())
    if as_json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
        print(json.dumps({"total": archive.count_articles(), "by_lang": by_lang, "taggers": taggers,
                          "recent_failures": recent_failures, "crawl_delays": paced,
                          "digests": [{**d, "recipients": json.loads(d["recipients"]), "refused": json.loads(d["refused"])}
                                      for d in digests]}, ensure_ascii=False))
        return
    table = Table(title=f"veille archive: {archive.folder}", title_justify="left")
    table.add_column("source", overflow="fold", max_width=24)
    table.add_column("articles", justify="right", no_wrap=True)
    table.add_column("last fetch", no_wrap=True)
    table.add_column("status", overflow="fold", max_width=22)
    table.add_column("last error", overflow="fold", ratio=1)
    attention: list[str] = []
    for r in records:
        name = escape(r["source"]) if r["enabled"] else f"[dim]{escape(r['source'])} (off)[/dim]"
        error = escape(r["last_error"] or "")
        if r["failed_items"]:
            error = (error + "; " if error else "") + f"{r['failed_items']} article(s) failed"
        status_text = escape(r["last_status"] or "") or ("imported files" if r["source"] == pipeline.IMPORT_SOURCE else "never fetched")
        if r["paused_since"]:
            status_text = f"[red]paused since {_short_time(r['paused_since'])}[/red]"
            attention.append(f"[red]{escape(r['source'])}[/red] is paused since {_short_time(r['paused_since'])} "
                             f"after {r['consecutive_failures']} failure{'s' if r['consecutive_failures'] != 1 else ''} (last: {escape(r['last_error'] or '?')}): "
                             f"{escape(r['advice'] or '')}; then `veille feeds resume {escape(r['source'])}`")
        elif r["consecutive_failures"]:
            status_text = (f"[red]failed x{r['consecutive_failures']} since {_short_time(r['failing_since'])}[/red]"
                           f"; next try {_short_time(r['next_attempt'])}")
        if r["moved_to"]:
            attention.append(f"[yellow]{escape(r['source'])}[/yellow] moved permanently to {escape(r['moved_to'])}: "
                             "`veille feeds fix` updates feeds.yaml")
        table.add_row(name, str(r["articles"]), _short_time(r["last_fetch"]), status_text, f"[red]{error}[/red]" if error else "")
    out.print(table)
    for line in attention:
        out.print(line)
    for p in paced:
        line = (f"{escape(p['host'])} asks for {p['asks']:g} s between requests (Crawl-delay); "
                f"veille waits {p['waits']:g} s")
        if p["capped"]:
            line += " (settings.max_crawl_delay caps it)"
        out.print(line + f" [dim](robots.txt read {_short_time(p['read'])})[/dim]")
    for row in digests:
        refused = json.loads(row["refused"])
        line = (f"digest [bold]{escape(row['digest'])}[/bold]: last sent {_short_time(row['sent_at'])} UTC, "
                f"{_n(row['stories'], 'story')} to {_n(len(json.loads(row['recipients'])), 'recipient')}")
        if refused:
            line += " · [red]refused: " + escape(", ".join(f"{k} ({v})" for k, v in refused.items())) + \
                "[/red]; check these addresses in feeds.yaml"
        if row.get("status") == "sending":
            line = (f"digest [bold]{escape(row['digest'])}[/bold]: [yellow]a send started "
                    f"{_short_time(row['sent_at'])} UTC was not completed[/yellow] (under way, or interrupted after "
                    f"the message went to the server; Message-ID {escape(row['message_id'])}); if nobody got it, "
                    f"`veille digest {escape(row['digest'])} --send --force` sends it again")
        out.print(line)
    total = archive.count_articles()
    langs = ", ".join(f"{lang} {n}" for lang, n in by_lang.items()) or "none"
    out.print(f"[bold]{total}[/bold] articles; by language: {escape(langs)}")
    if taggers:
        out.print("[bold]entities and topics[/bold]")
        for row in taggers:
            how = row["tagger"].split(";")[0]
            kind = ("full model" if how.startswith("model") else
                    "fallback: gazetteer only" if how.startswith("fallback") else "not tagged: run `veille retag`")
            out.print(f"  {row['lang']}: {row['n']} article(s), {kind} ({escape(how)})")
    if recent_failures:
        out.print("[bold]recent failures[/bold]")
        for f in recent_failures[:10]:
            out.print(f"  {f['source']}: {f['url']}: {f['reason']} (x{f['count']})", markup=False)


@main.command(name="list")
@click.option("--source", help="Only articles of this source.")
@click.option("--lang", help="Only articles in this language (en, fr, ..., und).")
@click.option("--limit", type=click.IntRange(min=0, max=MAX_COUNT), default=20, show_default=True,
              help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article per line.")
@click.pass_obj
def list_(state: State, source: str | None, lang: str | None, limit: int, as_json: bool) -> None:
    """List archived articles, newest first.

    Example: veille list --lang fr --limit 5
    """
    lang, source = _check_filters(state.archive(), lang, source)
    articles = state.archive().list_articles(source=source, lang=lang, limit=limit or None)
    if as_json:
        archive = state.archive()
        for article in articles:
            print(json.dumps(_article_json(article, archive), ensure_ascii=False))
        return
    table = Table(show_edge=False, expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("source", no_wrap=True, overflow="ellipsis", max_width=18)
    table.add_column("title", overflow="fold", ratio=1)
    for a in articles:
        title = escape(a.title) if a.title else "[dim](no title)[/dim]"
        table.add_row(a.id[:10], (a.published or a.fetched or "")[:10], a.lang, escape(a.source), title)
    out.print(table)
    if not articles:
        err.print("no articles match; try `veille status` to see what is archived")


@main.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the text.")
@click.pass_obj
def show(state: State, article_id: str, as_json: bool) -> None:
    """Show one article: its metadata and clean text. IDs may be shortened.

    Example: veille show 3f9a1c2b
    """
    archive = state.archive()
    article = archive.get_article(article_id)
    if article is None:
        story = archive.get_article(article_id[1:]) if article_id[:1] in ("s", "S") else None
        if story is not None and archive.story_of(story.id) is not None:
            raise VeilleError(f"{article_id} is a story id; `veille story {article_id}` shows its articles")
        raise VeilleError(f"no article with id {_shown(article_id)}; `veille list` shows the ids "
                          "(any 4 or more of their first characters will do, if no other id starts so)")
    revisions = [dict(r) for r in archive.revisions(article.id)]
    entities = archive.entities_of(article.id)
    tags = archive.tags_of(article.id)
    membership = archive.story_membership(article.id)
    if as_json:
        data = _article_json(article, archive)
        data["story_evidence"] = membership["evidence"] if membership else None
        data["text"] = article.text
        data["alternates"] = article.alternates
        data["revisions"] = revisions
        data["entities"] = [{"text": e.text, "label": e.label, "start": e.start, "end": e.end,
                             "key": e.key, "origin": e.origin} for e in entities]
        data["tags"] = tags
        data["tagger"] = article.tagger
        print(json.dumps(data, ensure_ascii=False))
        return
    out.print(f"[bold]{escape(article.title or '(no title)')}[/bold]")
    meta = [
        ("id", article.id), ("url", article.url), ("source", article.source),
        ("site", article.site_name), ("author", article.author), ("published", article.published),
        ("fetched", article.fetched),
        ("language", f"{article.lang} ({article.lang_confidence:.2f}; {article.lang_reason})"
                     + (f"; by paragraph {', '.join(f'{c} {s:.0%}' for c, s in article.lang_shares)}"
                        if len(article.lang_shares) > 1 else "")),
        ("note", article.note), ("revision", str(article.revision) if article.revision > 1 else None),
        ("story", f"{membership['story_id']} ({membership['relation']}"
                  + (f" of {membership['original_id'][:10]}" if membership['relation'] != 'original' else "")
                  + "; `veille story` shows it)" if membership else None),
    ]
    for key, value in meta:
        if value:
            out.print(f"[dim]{key:>9}[/dim]  {escape(value)}")
    if tags:
        out.print(f"[dim]{'tags':>9}[/dim]  {escape(', '.join(tags))}")
    by_label: dict[str, dict[str, int]] = {}
    for entity in entities:
        by_label.setdefault(entity.label, {}).setdefault(entity.text, 0)
        by_label[entity.label][entity.text] += 1
    for label in ("PERSON", "ORG", "LOC", "MISC"):
        if label in by_label:
            names = sorted(by_label[label].items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in names)
            out.print(f"[dim]{label.lower():>9}[/dim]  {escape(shown)}")
    if not article.tagger:
        out.print(f"[dim]{'entities':>9}[/dim]  not tagged yet; run `veille retag`")
    out.print()
    out.print(article.text, markup=False)


@main.command()
@click.option("--top", type=click.IntRange(min=1, max=MAX_COUNT), default=20, show_default=True, help="How many entities.")
@click.option("--label", type=click.Choice(["PERSON", "ORG", "LOC", "MISC"], case_sensitive=False),
              help="Only this kind of entity.")
@click.option("--lang", help="Only articles in this language.")
@click.option("--since", metavar="DATE", help="Only articles published (or fetched) on or after DATE (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one entity key per line.")
@click.pass_obj
def entities(state: State, top: int, label: str | None, lang: str | None, since: str | None, as_json: bool) -> None:
    """Rank entities by the number of articles that mention them, across spellings and languages.

    Example: veille entities --label ORG --top 10
    """
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise click.BadParameter(f"{since!r} is not a date; write it as YYYY-MM-DD", param_hint="--since")
    rows = state.archive().entity_ranking(top=top, label=label.upper() if label else None, lang=lang, since=since)
    if as_json:
        for row in rows:
            row["langs"] = sorted((row["langs"] or "").split(","))
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table(show_edge=False, expand=True)
    table.add_column("key", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("name", overflow="fold", ratio=1, min_width=16)
    table.add_column("label", no_wrap=True)
    table.add_column("articles", justify="right", no_wrap=True)
    table.add_column("mentions", justify="right", no_wrap=True)
    table.add_column("languages", no_wrap=True)
    for row in rows:
        langs = ", ".join(sorted((row["langs"] or "").split(",")))
        table.add_row(escape(row["key"]), escape(row["text"] or ""), row["label"] or "", str(row["articles"]),
                      str(row["mentions"]), langs)
    out.print(table)
    if not rows:
        err.print("no entities yet; `veille retag` tags the articles already archived")


@main.command()
@click.option("--lang", help="Only articles in this language.")
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def retag(state: State, lang: str | None, quiet: bool, as_json: bool) -> None:
    """Tag again the articles whose entities and topics came from older models or data files.

    Resumable: stop it at any time, run it again, and it carries on where it stopped.
    Example: veille retag --lang fr
    """
    archive = state.writer("retag")
    started = time.monotonic()
    with _progress(quiet or as_json, "tagging") as progress:
        report = pipeline.retag(_optional_config(state), archive, lang=lang, progress=progress)
    if as_json:  # the same summary object as the other commands ("updated": articles tagged again)
        _print_summary("retag", report, time.monotonic() - started, as_json)
        return
    _print_failures(report)
    tagged, failed = report.counts.get("updated", 0), report.counts.get("failed", 0)
    said = (f"{_n(tagged, 'article')} tagged again" if tagged or failed else
            "nothing to tag again: every article was tagged by the current models and data files")
    out.print(f"retag: {said}{f', {failed} failed' if failed else ''} ({time.monotonic() - started:.1f}s)")


@main.command()
@click.argument("query", required=False, default="")
@click.option("--lang", help="Only articles in this language (and stem the query for it).")
@click.option("--source", help="Only articles of this source.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD).")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True,
              help="Best matches first, or newest first.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_COUNT), default=10, show_default=True, help="Stories per page.")
@click.option("--page", type=click.IntRange(min=1, max=MAX_COUNT), default=1, show_default=True,
              help="Which page of --limit stories to show (the last line says when there is a next one).")
@click.option("--all-versions", is_flag=True, help="Every matching article, not one line per story.")
@click.option("--count", "count_only", is_flag=True, help="Only the number of matching stories and articles.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one story (or article) per line.")
@click.option("--saved", metavar="NAME", help="Run a saved search (see `veille searches`); options given here win.")
@click.option("--facets", is_flag=True, help="Counts by language, source, tag and top entities for the query.")
@click.option("--cross-lingual", is_flag=True,
              help="Also search the query's topic terms in other languages, and every spelling of its names.")
@click.pass_obj
def search(state: State, query: str, lang: str | None, source: str | None, since: str | None, until: str | None,
           sort: str, limit: int, page: int, all_versions: bool, count_only: bool, as_json: bool,
           saved: str | None, facets: bool, cross_lingual: bool) -> None:
    """Search the archive: words, "exact phrases", AND/OR/NOT, (groups), field:value, prefix*.

    Fields: lang:fr source:NAME entity:palantir tag:facial-recognition story:ID published:[2025-01-01 to].
    One line per story, its other versions beneath. Example: veille search '"reconnaissance faciale" AND lang:fr'
    """
    from veille.app.queries import expand_cross_lingual, filters_of, find_ids, parse_query, resolve_saved
    from veille.search import open_index
    from veille.search.query import check_syntax

    _check_dates(since, until)
    archive = state.archive()
    if saved:
        query, lang, source = resolve_saved(archive, saved, query, lang, source)
    lang, source = _check_filters(archive, lang, source)
    if cross_lingual:
        check_syntax(query)
        query, expansions = expand_cross_lingual(query)
        for note in expansions:
            err.print(f"[dim]expanded: {escape(note)}[/dim]")
    _catch_up(archive)
    if archive.count_articles() == 0:
        raise ArchiveError(f"no articles yet in {archive.folder}; add some with `veille import PATH` or `veille fetch`")
    index = open_index(archive, reader=True)
    filters = filters_of(lang, source, since, until)
    tree = parse_query(query)
    plan = index.parse(tree, lang, filters)
    _say_how_it_was_read(plan.ignored)
    if count_only or facets:
        ids, story_count = find_ids(archive, index, tree, filters, lang=lang)
        if count_only:
            print(json.dumps({"stories": story_count, "articles": len(ids)}) if as_json
                  else f"{_n(story_count, 'story')}, {_n(len(ids), 'article')}")
            _exit_if_nothing(story_count)
            return
        counts = archive.facets(ids)
        if as_json:
            print(json.dumps({"stories": story_count, "articles": len(ids), **counts}, ensure_ascii=False))
            return
        out.print(f"{_n(story_count, 'story')}, {_n(len(ids), 'article')}")
        for name, values in counts.items():
            shown = ", ".join(f"{escape(str(k))} {v}" for k, v in values.items()) or "-"
            out.print(f"[bold]{name:>9}[/bold]  {shown}")
        return
    results = index.search(tree, lang=lang, filters=filters, sort=sort, limit=limit, page=page,
                           by_story=not all_versions)
    highlighter = index.highlighter(tree, lang)
    for hits in results.groups:
        _print_hit(archive, highlighter, hits[0], as_json, scored=plan.scored is not None)
    if results.more and not as_json:
        err.print(f"[dim]more: --page {page + 1}[/dim]")
    if not results.groups and not as_json:
        err.print("no match; try fewer words, a prefix* or --cross-lingual" if page == 1 else
                  f"no page {page}: the results end before it")
    _exit_if_nothing(len(results.groups))


def _marked(passage: str, marks: list[tuple[int, int]], *, colour: bool) -> str:
    """The snippet as console markup: the query's words in colour on a terminal, in [brackets] otherwise."""
    pieces, cursor = [], 0
    for begin, finish in marks:
        word = escape(passage[begin:finish])
        pieces += [escape(passage[cursor:begin]), f"[bold yellow]{word}[/bold yellow]" if colour else f"\\[{word}]"]
        cursor = finish
    return "".join(pieces) + escape(passage[cursor:])


def _say_how_it_was_read(ignored: tuple[str, ...]) -> None:
    """When the query searched is not what was typed, say so on stderr (stdout stays the answer)."""
    if not ignored:
        return
    note = f"common words left out of the query: {', '.join(ignored)}"
    operators = [w for w in ignored if w in ("and", "or", "not")]
    if operators:
        note += f" (lower-case {', '.join(operators)} is a word; write AND, OR, NOT for operators)"
    err.print(f"[dim]{escape(note)}[/dim]")


def _n(count: int, word: str) -> str:
    """'1 story', '2 stories', '0 articles'."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1] + 'ies' if word.endswith('y') and word[-2:-1] not in 'aeiou' else word + 's'}"


def _exit_if_nothing(found: int) -> None:
    """Like grep: a search that matched nothing exits 1, so scripts can tell."""
    if not found:
        click.get_current_context().exit(1)


def _check_filters(archive: Archive, lang: str | None, source: str | None) -> tuple[str | None, str | None]:
    """--lang and --source as the archive knows them: a source named in another case is found
    (`--source netzwacht`); a source or language the archive does not hold is one line saying
    which it does hold, not an empty answer."""
    if source is not None and not archive.holds(source=source):
        names = sorted(archive.counts_by_source())
        same = [name for name in names if name.casefold() == source.casefold()]
        if len(same) != 1:
            raise click.BadParameter(f"no source {source!r} in the archive; its sources: "
                                     f"{', '.join(names) or 'none yet'}", param_hint="--source")
        source = same[0]
    if lang is not None:
        from veille.text.langcodes import is_language

        lang = lang.strip().lower()
        if not is_language(lang) and not archive.holds(lang=lang):  # a language with no article yet is no error
            held = ", ".join(f"{code} {n}" for code, n in archive.counts_by_lang().items()) or "none yet"
            raise click.BadParameter(f"unknown language {lang!r} (write an ISO 639-1 code like en, fr, de); "
                                     f"the archive holds: {held}", param_hint="--lang")
    return lang, source


def _check_dates(since: str | None, until: str | None) -> None:
    from datetime import date

    for name, value in (("--since", since), ("--until", until)):
        if not value:
            continue
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD", param_hint=name) from None


def _print_hit(archive: Archive, highlighter, hit, as_json: bool, scored: bool = True) -> None:
    article = archive.get_article(hit.id)
    if article is None:
        return
    membership = archive.story_membership(article.id) or {}
    members = archive.story_members(membership["story_id"]) if membership else []
    passage, marks = highlighter.passage(article.text, article.lang)
    if as_json:  # the snippet as written, and where the query's words are in it
        print(json.dumps({
            "story_id": membership.get("story_id"), "id": article.id, "relation": membership.get("relation"),
            "title": article.title, "source": article.source, "published": article.published, "lang": article.lang,
            "score": hit.score if scored else None, "snippet": passage, "highlights": marks,
            "members": [{"id": m["article_id"], "relation": m["relation"], "lang": m["lang"], "source": m["source"]}
                        for m in members],
        }, ensure_ascii=False))
        return
    when = (article.published or article.fetched or "")[:10]
    score = f" · {hit.score:.2f}" if scored else ""  # a search by filters alone ranks nothing
    out.print(f"[bold]{escape(article.title or '(no title)')}[/bold]  [dim]{article.id[:10]} · {escape(article.source)}"
              f" · {when} · {article.lang}{score}[/dim]")
    out.print(f"  {_marked(passage, marks, colour=out.is_terminal)}")
    others = [m for m in members if m["article_id"] != article.id]
    if others:
        langs = sorted({m["lang"] for m in others if m["lang"] != article.lang})
        copies = sum(1 for m in members if m["relation"] in ("copy", "duplicate"))
        parts = ([f"also in: {', '.join(langs)}"] if langs else []) + ([f"{copies} cop{'y' if copies == 1 else 'ies'}"] if copies else [])
        out.print(f"  [dim]{' · '.join(parts)} (veille story {article.id[:10]})[/dim]")


@main.group(cls=click.Group)
def searches() -> None:
    """Saved searches, by name: for `veille search --saved NAME` and the weekly digest.

    Example: veille searches add nice-cameras '"reconnaissance faciale" AND Nice'
    """


@searches.command(name="add")
@click.argument("name")
@click.argument("query")
@click.option("--lang", help="Only articles in this language.")
@click.option("--source", help="Only articles of this source.")
@click.pass_obj
def searches_add(state: State, name: str, query: str, lang: str | None, source: str | None) -> None:
    """Save QUERY under NAME (replacing a search of that name). Example: veille searches add palantir entity:palantir"""
    from veille.search.query import check_syntax

    if not re.fullmatch(r"[\w.-]{1,64}", name):
        raise click.BadParameter("use letters, digits, '-', '_' or '.', at most 64", param_hint="NAME")
    check_syntax(query)
    options = {k: v for k, v in (("lang", lang), ("source", source)) if v}
    replaced = state.archive().save_search(name, query, options, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    out.print(f"{'replaced' if replaced else 'saved'} search {escape(name)}: {escape(query)}")


@searches.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines.")
@click.pass_obj
def searches_list(state: State, as_json: bool) -> None:
    """List the saved searches. Example: veille searches list"""
    saved = state.archive().saved_searches()
    for item in saved:
        if as_json:
            print(json.dumps(item, ensure_ascii=False))
        else:
            extra = " ".join(f"--{k} {v}" for k, v in item["options"].items())
            out.print(f"[bold]{escape(item['name'])}[/bold]  {escape(item['query'])} {escape(extra)}")
    if not saved and not as_json:
        err.print("no saved searches; `veille searches add NAME QUERY` saves one")


@searches.command(name="remove")
@click.argument("name")
@click.pass_obj
def searches_remove(state: State, name: str) -> None:
    """Remove a saved search. Example: veille searches remove palantir"""
    if not state.archive().remove_search(name):
        raise VeilleError(f"no saved search named {name!r}; `veille searches list` shows them")
    out.print(f"removed search {escape(name)}")


@main.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def reindex(state: State, quiet: bool) -> None:
    """Delete the search index and build it again from the archive.

    Example: veille reindex
    """
    archive = state.writer("reindex")
    started = time.monotonic()
    with _progress(quiet, "indexing") as progress:
        count = pipeline.reindex(archive, progress=progress)
    out.print(f"reindex: {_n(count, 'article')} indexed ({time.monotonic() - started:.1f}s)")


def _article_json(article: Article, archive: Archive | None = None) -> dict:
    data = {key: getattr(article, key) for key in JSON_FIELDS}
    data["lang_shares"] = dict(article.lang_shares)  # {"es": 0.52, "en": 0.48}, largest first
    if archive is not None:
        membership = archive.story_membership(article.id) or {}
        data.update({key: membership.get(key) for key in STORY_FIELDS})
    return data


@main.command()
@click.argument("article_or_story")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the story and its members.")
@click.pass_obj
def story(state: State, article_or_story: str, as_json: bool) -> None:
    """Show a story: its original, its copies and translations, and the evidence for each link.

    Give an article id (or a story id, which starts with "s"). Example: veille story 3f9a1c2b
    """
    archive = state.archive()
    article = archive.get_article(article_or_story.removeprefix("s"))
    story_id = archive.story_of(article.id) if article else None
    if story_id is None:
        raise VeilleError(f"no story for {_shown(article_or_story)}; `veille list` shows article ids, "
                          "and `veille dedupe --rebuild` places older articles in stories")
    members = archive.story_members(story_id)
    if as_json:
        print(json.dumps({"story_id": story_id, "original_id": members[0]["original_id"], "members": [
            {key: m[key] for key in ("article_id", "relation", "lang", "source", "published", "fetched", "title",
                                     "url", "linked_to", "score", "evidence")} for m in members]},
            ensure_ascii=False))
        return
    original = next(m for m in members if m["relation"] == "original")
    out.print(f"[bold]story {story_id}[/bold]: {escape(original['title'] or '(no title)')} "
              f"({len(members)} version{'s' if len(members) > 1 else ''})")
    order = {"original": 0, "duplicate": 1, "copy": 2, "translation": 3}
    for m in sorted(members, key=lambda m: (order[m["relation"]], m["lang"], m["article_id"])):
        when = (m["published"] or m["fetched"] or "")[:10]
        out.print(f"  [bold]{m['relation']:<11}[/bold] {m['article_id'][:10]}  {m['lang']}  {when}  "
                  f"{escape(m['source'])}  {escape(m['title'] or '')}")
        out.print(f"  {'':<11} [dim]{escape(m['evidence'] or '')}[/dim]")


@main.command()
@click.option("--rebuild", is_flag=True, help="Recompute every story from the fingerprints (what dedupe does; "
              "the flag may be left out).")
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def dedupe(state: State, rebuild: bool, quiet: bool, as_json: bool) -> None:
    """Recompute every story (after a settings change), oldest article first; resumable.

    Example: veille dedupe --rebuild   (or just: veille dedupe)
    """
    archive = state.writer("dedupe")
    started = time.monotonic()
    with _progress(quiet or as_json, "stories") as progress:
        config = _optional_config(state)
        report = pipeline.rebuild_stories(archive, config.dedupe if config else None, progress=progress)
    _print_summary("dedupe", report, time.monotonic() - started, as_json)


def _crawl_delays(archive: Archive, settings: Settings) -> list[dict]:
    """The hosts whose robots.txt Crawl-delay makes veille wait longer than host_delay, or
    asks for longer than it waits (capped): what it asks, what veille waits, when it was read."""
    from veille.net import paced_delay

    paced = []
    for host, known in sorted(archive.crawl_delays().items()):
        asks = float(known["asks"])
        waits = paced_delay(settings, asks)
        if asks > settings.host_delay:
            paced.append({"host": host, "asks": asks, "waits": waits, "capped": waits < asks,
                          "read": known.get("read")})
    return paced


def _optional_config(state: State) -> Config | None:
    if not Path(state["config_path"]).exists():
        return None
    return state.config()


def _shown(value: str, width: int = 40) -> str:
    """A value the user typed, quoted and cut short for a one-line message."""
    return repr(value if len(value) <= width else value[:width] + "…")


def _short_time(value: str | None) -> str:
    return value.replace("T", " ").rstrip("Z")[:16] if value else "-"


def _print_failures(report: pipeline.RunReport) -> None:
    for failure in report.failures:
        err.print(f"[yellow]{escape(failure.source)}[/yellow]: {escape(failure.url)}: {escape(failure.reason)}")


def _print_summary(command: str, report: pipeline.RunReport, seconds: float, as_json: bool) -> None:
    counts = {k: report.counts.get(k, 0) for k in ("new", "updated", "unchanged", "failed")}
    if report.counts.get("skipped"):
        counts["skipped"] = report.counts["skipped"]
    if as_json:
        print(json.dumps({
            "command": command, **counts, "seconds": round(seconds, 2),
            "articles": report.articles,
            "failures": [vars(f) for f in report.failures],
        }, ensure_ascii=False))
        return
    _print_failures(report)
    for name, outcome in report.sources.items():
        if outcome.startswith("paused") or "paused now" in outcome or "moved permanently" in outcome:
            err.print(f"[yellow]{escape(name)}[/yellow]: {escape(outcome)}")
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    if report.sources:
        outcomes = Counter(
            "failed" if o.startswith("failed") else "not modified" if o.startswith("not modified") else
            "paused" if o.startswith("paused") else "read"
            for o in report.sources.values()
        )
        summary += f" · {_n(len(report.sources), 'source')} (" + ", ".join(f"{n} {k}" for k, n in outcomes.items()) + ")"
    out.print(f"{command}: {summary} ({seconds:.1f}s)")


def _catch_up(archive: Archive) -> None:
    """Index what was stored since the last sync, unless a writer (`veille run`, `fetch`...) is at
    work: it keeps the index in step itself, and the reader searches the last committed index."""
    with archive.try_writer("search") as free:
        if free:
            pipeline.sync_index(archive, notice=lambda message: err.print(f"veille: {escape(message)}", soft_wrap=True))


class _progress:
    """A progress bar on stderr (sources for fetch, files for import) with the item in hand.

    Silent with --quiet/--json or when stderr is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, quiet: bool, label: str) -> None:
        self.quiet = quiet or not err.is_terminal
        self.label = label
        self.bar: Progress | None = None
        self.task = None

    def __enter__(self):
        if self.quiet:
            return None
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[item]}"), console=err, transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(self.label, total=None, item="")
        return self.update

    def update(self, event: str, detail: str) -> None:
        assert self.bar is not None
        if event == "total":
            self.bar.update(self.task, total=int(detail))
        elif event in ("source", "file"):
            self.bar.update(self.task, advance=1 if event == "file" else 0, item=escape(detail[-60:]))
            if event == "source":
                self.bar.advance(self.task)
        else:
            self.bar.update(self.task, item=escape(detail[-60:]))

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# --------------------------------------------------------------------------
# veille run, veille feeds ...
# --------------------------------------------------------------------------


@main.command()
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True,
              help="How much the log says, on stderr and in the archive's logs/veille.log.")
@click.pass_obj
def run(state: State, log_level: str) -> None:
    """Run unattended: fetch every enabled source on its own schedule until stopped.

    Logs go to stderr and to ARCHIVE/logs/veille.log (rotated). SIGTERM or Ctrl-C stop it
    after the article in hand; SIGHUP or saving feeds.yaml reloads the sources.
    Example: veille run
    """
    from veille.service.scheduler import Service, setup_logging

    archive = state.writer("run", create=True)
    log_path = setup_logging(archive.log_folder(), getattr(logging, log_level.upper()))
    service = Service(state["config_path"], archive)
    err.print(f"veille run: {_n(len(service.config.enabled_sources), 'source')}; log in {log_path}; Ctrl-C stops",
              soft_wrap=True)
    service.run()


@main.group()
def feeds() -> None:
    """Manage the sources in feeds.yaml (comments and order are kept).

    Example: veille feeds add https://technopolice.fr --lang fr
    """


@feeds.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one source per line.")
@click.pass_obj
def feeds_list(state: State, as_json: bool) -> None:
    """List the sources with their state. Example: veille feeds list"""
    config = state.config()
    # feeds.yaml's sources, with what the archive knows of them when there is one yet
    rows = {row["name"]: dict(row) for row in state.archive().source_rows()} if state.has_archive() else {}
    for source in config.sources:
        row = rows.get(source.name, {})
        condition = ("off" if not source.enabled else "paused" if row.get("paused_since") else
                     "failing" if row.get("consecutive_failures") else "ok" if row.get("last_success") else "new")
        record = {"name": source.name, "url": source.url, "kind": source.kind, "language": source.language,
                  "tags": list(source.tags), "interval": source.interval, "enabled": source.enabled,
                  "state": condition, "last_fetch": row.get("last_fetch"), "moved_to": row.get("moved_to")}
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            colour = {"ok": "green", "paused": "red", "failing": "yellow"}.get(condition, "dim")
            out.print(f"[{colour}]{condition:>7}[/{colour}]  [bold]{escape(source.name)}[/bold]  {escape(source.url)}"
                      f"  [dim]{source.kind} · {source.language or 'auto'} · every {_interval(source.interval)}[/dim]")


@feeds.command(name="add")
@click.argument("url")
@click.option("--name", help="Name of the source (default: the feed's title).")
@click.option("--lang", help="Language of the source, like fr (default: the feed's own).")
@click.option("--tags", help="Comma-separated tags, like police,biometrics.")
@click.option("--pick", type=click.IntRange(min=1), help="Which of several discovered feeds to add.")
@click.option("--page", "as_page", is_flag=True, help="Add URL as a page to watch, not a feed.")
@click.pass_obj
def feeds_add(state: State, url: str, name: str | None, lang: str | None, tags: str | None, pick: int | None,
              as_page: bool) -> None:
    """Add a feed; given a web site, find its feeds and offer them.

    Example: veille feeds add https://www.laquadrature.net --tags privacy
    """
    from veille.config.feedsfile import FeedsFile
    from veille.pipeline.discover import discover
    from veille.net import Fetcher, check_url

    check_url(url)
    file = FeedsFile(state["config_path"])
    settings = state.config().settings if Path(state["config_path"]).exists() else None
    from veille.config.settings import Settings

    title, language = None, lang
    if as_page:
        chosen = url
    else:
        with Fetcher(settings or Settings()) as fetcher:
            try:
                found = discover(url, fetcher)
            except VeilleError as exc:
                raise VeilleError(f"feeds add: cannot read {url} ({exc}); check the address") from None
        if not found:
            raise VeilleError(f"feeds add: no feed found at {url} (no <link rel=alternate>, none at /feed, /rss.xml, "
                              "...); pass the feed's own URL, or --page to watch the page itself")
        if len(found) > 1 and pick is None:
            for number, feed in enumerate(found, start=1):
                out.print(f"  {number}. {escape(feed.title or '(untitled)')}  {escape(feed.url)}  "
                          f"[dim]{feed.entries} entries · {feed.language or 'language not given'}[/dim]")
            if not sys.stdin.isatty():
                raise VeilleError(f"feeds add: {len(found)} feeds found at {url}; choose one with --pick N")
            pick = click.prompt("Which one", type=click.IntRange(1, len(found)))
        if pick is not None and pick > len(found):
            raise VeilleError(f"feeds add: --pick {pick}, but only {len(found)} feed(s) were found")
        feed = found[(pick or 1) - 1]
        chosen, title = feed.url, feed.title
        language = lang or (feed.language or "").lower()[:2] or None
    if chosen in file.urls():
        raise VeilleError(f"feeds add: {chosen} is already in {file.path}")
    final = name or file.unique_name(title or urlsplit_host(chosen))
    file.add(final, chosen, kind="page" if as_page else "feed", language=language,
             tags=[t.strip() for t in tags.split(",") if t.strip()] if tags else None)
    file.save()
    out.print(f"added {escape(final)}: {escape(chosen)} to {file.path}")


@feeds.command(name="remove")
@click.argument("name")
@click.pass_obj
def feeds_remove(state: State, name: str) -> None:
    """Remove a source from feeds.yaml (its articles stay in the archive). Example: veille feeds remove lemonde"""
    from veille.config.feedsfile import FeedsFile

    file = FeedsFile(state["config_path"])
    if not file.remove(name):
        raise VeilleError(f"feeds remove: no source named {name!r}; `veille feeds list` shows them")
    file.save()
    out.print(f"removed {escape(name)} from {file.path}; its articles stay in the archive")


@feeds.command(name="check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one source per line.")
@click.pass_obj
def feeds_check(state: State, names: tuple[str, ...], as_json: bool) -> None:
    """Fetch each source (or the named ones) once and report; nothing is stored.

    Example: veille feeds check "La Quadrature du Net"
    """
    from veille.errors import FeedError, FetchError
    from veille.net import Fetcher

    config = state.config()
    sources = [config.source(n) for n in names] if names else list(config.sources)
    bad = 0
    with Fetcher(config.settings) as fetcher:
        for source in sources:
            record: dict[str, Any] = {"name": source.name, "url": source.url}
            try:
                response = fetcher.get(source.url)
                record.update(status=response.status, seconds=round(response.elapsed, 2))
                if response.moved_to:
                    record["moved_to"] = response.moved_to
                if source.kind == "feed":
                    try:
                        parsed = pipeline.parse_feed(response)
                        record.update(ok=True, entries=len(parsed.entries), title=parsed.title,
                                      warning=parsed.warning)
                    except FeedError as exc:
                        record.update(ok=False, error=str(exc), advice=health.advice(health.kind_of(exc)))
                else:
                    record.update(ok=response.is_html(), content_type=response.content_type)
            except FetchError as exc:
                kind = health.kind_of(exc)
                record.update(ok=False, error=exc.summary, advice=health.advice(kind))
            bad += not record["ok"]
            if as_json:
                print(json.dumps(record, ensure_ascii=False))
                continue
            if record["ok"]:
                what = f"{record['entries']} entries" if "entries" in record else "page"
                out.print(f"[green]ok[/green]     {escape(source.name)}: {what}, {record['seconds']}s"
                          + (f"; moved permanently to {escape(record['moved_to'])} (`veille feeds fix`)"
                             if "moved_to" in record else ""))
            else:
                out.print(f"[red]failed[/red] {escape(source.name)}: {escape(record['error'])} → {escape(record['advice'])}")
    if bad:
        sys.exit(1)


@feeds.command(name="fix")
@click.argument("names", nargs=-1)
@click.pass_obj
def feeds_fix(state: State, names: tuple[str, ...]) -> None:
    """Rewrite the URLs of sources that moved permanently (301/308) in feeds.yaml.

    Example: veille feeds fix
    """
    from veille.config.feedsfile import FeedsFile

    archive = state.archive()
    moved = {row["name"]: row["moved_to"] for row in archive.source_rows() if row["moved_to"]}
    if names:
        unknown = [n for n in names if n not in moved]
        if unknown:
            raise VeilleError(f"feeds fix: {', '.join(unknown)} did not move (as of the last fetch); nothing to fix")
        moved = {n: moved[n] for n in names}
    if not moved:
        out.print("feeds fix: no source has moved; nothing to do")
        return
    file = FeedsFile(state["config_path"])
    for name, url in moved.items():
        source = file.find(name)
        if source is None:
            continue
        out.print(f"{escape(name)}: {escape(str(source['url']))} → {escape(url)}")
        file.set_url(name, url)
    file.save()
    for name in moved:
        archive.forget_move(name)


@feeds.command(name="resume")
@click.argument("name")
@click.pass_obj
def feeds_resume(state: State, name: str) -> None:
    """End a source's pause now (after fixing it); the next run tries it. Example: veille feeds resume lemonde"""
    state.config().source(name)
    if not state.archive().resume_source(name):
        raise VeilleError(f"feeds resume: {name!r} was never fetched; nothing to resume")
    out.print(f"resumed {escape(name)}: the next run fetches it")


@feeds.command(name="import-opml")
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_obj
def feeds_import_opml(state: State, path: Path) -> None:
    """Add the feeds of an OPML file (from a feed reader); folders become tags.

    Example: veille feeds import-opml subscriptions.opml
    """
    from veille.config.feedsfile import FeedsFile, read_opml

    outlines, skipped = read_opml(path)
    for url in skipped:
        err.print(f"import-opml: skipped {escape(url)}: not an http or https feed address")
    file = FeedsFile(state["config_path"])
    known, added = file.urls(), 0
    for outline in outlines:
        if outline.url in known:
            continue
        file.add(file.unique_name(outline.name), outline.url, language=outline.language, tags=list(outline.tags))
        known.add(outline.url)
        added += 1
    file.save()
    out.print(f"import-opml: {_n(added, 'feed')} added, {len(outlines) - added} already there ({file.path})")


@feeds.command(name="export-opml")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Write to this file (default: stdout).")
@click.pass_obj
def feeds_export_opml(state: State, out_path: Path | None) -> None:
    """Write the feeds as OPML, for feed readers. Example: veille feeds export-opml --out veille.opml"""
    from veille.config.feedsfile import write_opml

    text = write_opml(state.config().sources)
    if out_path:
        out_path.write_text(text, encoding="utf-8")
        err.print(f"export-opml: {sum(s.kind == 'feed' for s in state.config().sources)} feeds written to {out_path}")
    else:
        sys.stdout.write(text)


@main.command()
@click.argument("name")
@click.option("--dry-run", "dry_run", is_flag=True, help="Render without sending and without marking anything.")
@click.option("--send", "send_it", is_flag=True, help="Send it, and record the send (once per period).")
@click.option("--force", is_flag=True, help="With --send: send again even if this period's digest went out.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Also write the message to FILE.eml.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Also write its HTML part to FILE.html.")
@click.pass_obj
def digest(state: State, name: str, dry_run: bool, send_it: bool, force: bool, out_path: Path | None,
           html_path: Path | None) -> None:
    """Render or send a digest from feeds.yaml: the stories new since it was last sent.

    Example: veille digest weekly --dry-run --out weekly.eml
    """
    from datetime import datetime, timezone

    from veille.outputs import digest as digest_module

    if send_it == dry_run:
        raise click.UsageError("say --dry-run (render only) or --send")
    config = state.config()
    chosen = config.digest(name)
    archive = state.archive()
    now = datetime.now(timezone.utc)  # before the index catches up: whatever is stored later waits for next time
    _catch_up(archive)
    matching = digest_module.matching_ids(archive, chosen)
    issue, message, sent, said = digest_module.run(archive, chosen, config.smtp, matching_ids=matching,
                                                   now=now, send_it=send_it, force=force)
    if message is not None and dry_run and not (out_path or html_path):  # a preview on screen
        out.print(escape(message.get_body(("plain",)).get_content().rstrip()), highlight=False)
        out.print()
    if message is not None and (out_path or html_path):
        html = message.get_body(("html",)).get_content()
        if out_path:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(bytes(message))
        if html_path:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(html, encoding="utf-8")
    out.print(escape(said))
    for path in (out_path, html_path):
        if path and message is not None:
            out.print(f"  wrote {escape(str(path))}")


@main.command(name="export")
@click.argument("query", required=False, default="")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet", "spacy"]), default="jsonl",
              show_default=True, help="JSON Lines, a CSV pair (articles and entities), Parquet with nested "
              "entities, or spaCy DocBins for training.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="The data file; the dataset card (datapackage.json, README.md) goes beside it.")
@click.option("--lang", help="Only articles in this language.")
@click.option("--source", help="Only articles of this source.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD).")
@click.option("--saved", metavar="NAME", help="The query and filters of a saved search.")
@click.option("--stories", type=click.Choice(["all", "originals"]), default="all", show_default=True,
              help="Every member of every story, or one row per story (its original).")
@click.option("--no-text", is_flag=True, help="Leave the article text out.")
@click.option("--with-html", is_flag=True, help="Add the raw HTML as received, for re-extraction.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def export_(state: State, query: str, fmt: str, out_path: Path, lang: str | None, source: str | None,
            since: str | None, until: str | None, saved: str | None, stories: str, no_text: bool, with_html: bool,
            quiet: bool) -> None:
    """Export articles as a dataset: full text, stories, tags, entities with offsets, provenance.

    Example: veille export 'tag:facial-recognition' --format parquet --out exports/fr.parquet
    """
    from veille.app.queries import find_ids, parse_query, resolve_saved
    from veille.outputs.export import Selection, export

    _check_dates(since, until)
    archive = state.archive()
    if saved:
        query, lang, source = resolve_saved(archive, saved, query, lang, source)
    lang, source = _check_filters(archive, lang, source)
    matching = None
    if query.strip():
        tree = parse_query(query)
        _catch_up(archive)
        ids, _ = find_ids(archive, None, tree)
        matching = set(ids)
    selection = Selection(query=query, lang=lang, source=source, since=since, until=until, stories=stories,
                          text=not no_text, html=with_html)
    started = time.monotonic()
    with _progress(quiet, "exporting") as progress:
        if progress:
            progress("total", str(len(matching) if matching is not None else archive.count_articles()))
        done = export(archive, selection, fmt, out_path, matching,
                      progress=(lambda item: progress("file", item)) if progress else None)
    out.print(f"export: {_n(done['rows'], 'article')} in {_n(done['stories'], 'story')} to {', '.join(done['files'])} "
              f"and the dataset card beside it ({time.monotonic() - started:.1f}s)")


def urlsplit_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def _interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
