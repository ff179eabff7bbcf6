"""The `veille` command: parse options, call one library function, format the answer.

This module holds the group, its global options, the State every command receives and the error
handling; the commands live one group to a module beside it (ingest, read, search, feeds, outputs),
and the helpers they share in common.

Tables and progress bars are for people (on stderr when they are progress);
`--json` prints JSON Lines (one object for `show`) for programs. Every error
reaches the user as one line, `veille: ...`, with what to do.
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from veille import __version__
from veille.errors import STORAGE_ERRNOS, NoArchiveError, StorageError, VeilleError, is_storage_error, storage_advice

if TYPE_CHECKING:
    from veille.config.settings import Config
    from veille.storage import Archive


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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the first lines written in COMMANDS: no command module imported."""
        from click.utils import make_default_short_help

        rows = []
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        for name in sorted(COMMANDS):
            rows.append((name, make_default_short_help(COMMANDS[name][2], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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

    def __missing__(self, key: str):
        if key != "archive_path":
            raise KeyError(key)
        self[key] = self._archive_address()
        return self[key]

    def _archive_address(self) -> str:
        """--archive or VEILLE_ARCHIVE when given, else feeds.yaml's settings.archive, else ./archive."""
        from veille.errors import ConfigError

        if Path(self["config_path"]).is_file():
            try:
                return self.config().settings.archive or "archive"
            except ConfigError:
                pass  # said by the commands that need the sources; the others use ./archive
        return "archive"

    def archive(self, create: bool = False) -> Archive:
        """The archive; only the commands that fill it (`create`: fetch, import, run) may make a new one,
        so a mistyped --archive is said, not answered with an empty archive made on the spot."""
        from veille.storage import is_server, open_archive, sqlite_folder

        if "_archive" not in self:
            url = self["archive_path"]
            if is_server(url):
                self["_archive"] = opened = open_archive(url, create=create)
                if not opened.schema_version:
                    raise NoArchiveError(f"no veille archive in the database {opened.location} yet (create one with "
                                         "`veille import PATH`, `veille fetch` or `veille archive copy`; or give "
                                         "the right --archive)")
                return opened
            folder = sqlite_folder(url)  # a folder, or sqlite:///path
            if folder.exists() and not folder.is_dir():
                raise NoArchiveError(f"{folder} is a file, not an archive folder; give the right --archive")
            if not create and not self.has_archive():
                raise NoArchiveError(f"no archive at {folder} (create one with `veille import PATH` or "
                                     "`veille fetch`; or give the right --archive)")
            self["_archive"] = open_archive(url)
        return self["_archive"]

    def has_archive(self) -> bool:
        from veille.storage import archive_exists

        return "_archive" in self or archive_exists(self["archive_path"])

    def config(self) -> Config:
        from veille.config.settings import load_config

        if "_config" not in self:
            self["_config"] = load_config(self["config_path"])
        return self["_config"]

    def writer(self, command: str, create: bool = False) -> Archive:
        """The archive, for a command that writes it in bulk: one such command at a time."""
        from veille.storage import writer_lock

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
@click.option("--archive", "archive_path", metavar="PATH|URL", default=None,
              envvar="VEILLE_ARCHIVE", show_envvar=True,
              help="The archive: a folder (database, raw pages, index), sqlite:///PATH, or "
                   "postgresql://USER@HOST:PORT/DATABASE.  [default: settings.archive in the sources file, "
                   "else ./archive]")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default="feeds.yaml",
              envvar="VEILLE_CONFIG", show_default=True, show_envvar=True,
              help="Sources file.")
@click.option("--debug", is_flag=True, help="Log details and show tracebacks.")
@click.version_option(__version__, prog_name="veille")
@click.pass_context
def main(ctx: click.Context, archive_path: str | None, config_path: Path, debug: bool) -> None:
    """veille: a multilingual media-monitoring pipeline and article archive.

    Example: veille fetch && veille list --lang fr
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    state = State(config_path=config_path, debug=debug)
    if archive_path:
        state["archive_path"] = archive_path
    ctx.obj = state
    ctx.call_on_close(state.close)


# Each command group lives in a module of its own, imported when the command is run (or its help
# shown), so `veille --help` loads none of them. The first paragraph of each command's help is
# written here too, for the command list of `veille --help`; a test keeps the two the same.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "fetch": ("ingest", "fetch", "Fetch every enabled source once: feeds, their new articles, pages."),
    "import": ("ingest", "import_", "Import local files and folders (.html, .htm, .txt, .md) into the archive."),
    "retag": ("ingest", "retag", "Tag again the articles whose entities and topics came from older models or data files."),
    "dedupe": ("ingest", "dedupe", "Recompute every story (after a settings change), oldest article first; resumable."),
    "reindex": ("ingest", "reindex", "Delete the search index and build it again from the archive."),
    "worker": ("queue", "worker", "Run jobs from the broker until stopped: each source's pass, as `veille fetch` runs it."),
    "jobs": ("queue", "jobs", "Show the jobs on the broker: each queue's waiting jobs and workers, and the quarantined "
             "jobs with their reasons."),
    "run": ("ingest", "run", "Run unattended: fetch every enabled source on its own schedule until stopped."),
    "status": ("read", "status", "Show each source's articles, last fetch and last error, and totals by language."),
    "list": ("read", "list_", "List archived articles, newest first."),
    "show": ("read", "show", "Show one article: its metadata and clean text. IDs may be shortened."),
    "story": ("read", "story", "Show a story: its original, its copies and translations, and the evidence for each link."),
    "entities": ("read", "entities", "Rank entities by the number of articles that mention them, across spellings and languages."),
    "search": ("search", "search", 'Search the archive: words, "exact phrases", AND/OR/NOT, (groups), field:value, prefix*.'),
    "searches": ("search", "searches", "Saved searches, by name: for `veille search --saved NAME` and the weekly digest."),
    "feeds": ("feeds", "feeds", "Manage the sources in feeds.yaml (comments and order are kept)."),
    "digest": ("outputs", "digest", "Render or send a digest from feeds.yaml: the stories new since it was last sent."),
    "export": ("outputs", "export_", "Export articles as a dataset: full text, stories, tags, entities with offsets, provenance."),
    "serve": ("serve", "serve", "Serve the archive read-only in a browser: search, stories, articles, entities, tags, Atom feeds."),
    "trends": ("trends", "trends", "Articles (or stories) per day, week or month for a query, an entity:NAME or a tag:SLUG."),
    "archive": ("archives", "archive", "Move an archive between a folder (SQLite) and a PostgreSQL database, either way."),
    "warc": ("evidence", "warc", "The pages and feeds as the servers sent them, kept as WARC files."),
    "verify": ("evidence", "verify", "Recompute every capture's digests and every article's content hash; name what does not "
               "match, one line each (exit 1 if anything does)."),
}


class LazyCommands(dict):
    """main.commands: every command's name at once, each command imported when first asked for."""

    def __missing__(self, name: str) -> click.Command:
        import importlib

        module, attribute, _ = COMMANDS[name]
        command = getattr(importlib.import_module(f"veille.app.cli.{module}"), attribute)
        self[name] = command
        return command

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or dict.__contains__(self, name)

    def __iter__(self):
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)

    def keys(self):
        return COMMANDS.keys()

    def items(self):
        return [(name, self[name]) for name in COMMANDS]

    def values(self):
        return [self[name] for name in COMMANDS]


main.commands = LazyCommands()
