"""Read and validate feeds.yaml into a `Config`.

The file is parsed once, at the edge (the CLI), and the resulting `Config` is
passed down. Every problem is reported as one line naming the file, the line
and the fix, because the person who edits this file is rarely the person who
wrote veille.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import yaml

from veille.config.sections import capture_settings, server_settings
from veille.config.values import _most, parse_interval, parse_size
from veille.errors import ConfigError
from veille.models import DedupeSettings
from veille.text.spacymodels import BATCH_SIZE, DEFAULT_MODELS

SOURCE_KINDS = ("feed", "page", "sitemap", "listing")
SOURCE_KEYS = ("name", "url", "kind", "language", "tags", "interval", "enabled", "robots", "allow_private", "links")
SETTINGS_KEYS = (
    "user_agent",
    "contact",
    "default_interval",
    "timeout",
    "max_body",
    "max_redirects",
    "concurrency",
    "per_host",
    "host_delay",
    "max_crawl_delay",
    "pause_after",
    "capture",
    "warc_max_size",
    "workers",
    "archive",
    "broker",
    "job_retries",
    "job_retry_delay",
)
NLP_KEYS = ("models", "batch_size")
DEDUPE_KEYS = ("copy_jaccard", "translation_score", "translation_cover", "min_shared_anchors", "length_ratio",
               "window_days")
TOP_KEYS = ("settings", "nlp", "dedupe", "sources", "smtp", "digests")
SMTP_KEYS = ("host", "port", "security", "username", "password_env", "from")
DIGEST_KEYS = ("name", "to", "query", "languages", "schedule", "timezone", "max_stories", "subject", "send_empty",
               "first_window_days")
SMTP_SECURITY = ("none", "starttls", "ssl")
DEFAULT_NLP_MODELS = tuple(DEFAULT_MODELS.items())

MAX_INTERVAL = 366 * 86400  # a source read once a year; longer overflows the scheduler's dates
MAX_TIMEOUT = 3600  # a request waited for an hour at most
MAX_WORKERS = 64  # NLP worker processes; each holds its own copy of the models (about 300 MB)
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
# Turns one composed YAML node into its Python value (bool, int, str, ...).
_CONSTRUCTOR = yaml.SafeLoader("")


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks, tabs and other controls


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    kind: str = "feed"
    language: str | None = None
    tags: tuple[str, ...] = ()
    interval: int = 3600
    enabled: bool = True
    robots: bool = True
    # Links in this feed may reach loopback, private and link-local addresses (an intranet source
    # you trust). Without it, only the public internet and the feed's own kind of network.
    allow_private: bool = False
    # A listing's article links: a CSS selector, or a URL pattern (starts with / or http; * for
    # any characters). None: veille finds the links that look like articles.
    links: str | None = None


@dataclass(frozen=True)
class Settings:
    user_agent: str = "veille/{version} (+{contact})"
    contact: str = "https://example.org/veille"
    default_interval: int = 3600
    timeout: float = 20.0
    max_body: int = 10 * 1000**2
    max_redirects: int = 5
    concurrency: int = 32  # requests in flight at once, over all hosts
    per_host: int = 2  # requests in flight at once to one host
    host_delay: float = 0.5  # seconds between the starts of two requests to one host
    # A site's robots.txt Crawl-delay raises host_delay for that site, up to this many seconds (0:
    # Crawl-delay ignored). At 30 s a pass still reads 120 pages an hour from one site, more than
    # a busy newsroom publishes, so the hourly default interval keeps up; a site asking for more
    # (3600 is seen) would starve its own feed. A worker sleeps at most this long between a
    # robots.txt and the page after it.
    max_crawl_delay: float = 30.0
    pause_after: float = 12.0  # failure score at which a source is paused (see veille.health)
    # Every response kept as the server sent it, as WARC records in ARCHIVE/warc ("none": not kept).
    capture: str = "warc"
    warc_max_size: int = 1000**3  # a WARC file is closed and the next begun past this size
    # Processes that extract, detect and tag (each loads the models once); None: one per core
    # (VEILLE_WORKERS, when set, gives that default). 1: everything in this process, as before.
    workers: int | None = None
    # Where the archive is when --archive and VEILLE_ARCHIVE say nothing: a folder (relative to this
    # file's folder), sqlite:///path, or postgresql://user@host:port/database. None: ./archive.
    archive: str | None = None
    # The broker of `veille worker` and `veille fetch --via-queue` (amqp://user:password@host:port/vhost)
    # when VEILLE_BROKER says nothing. None: no broker; `veille run` and `veille fetch` need none.
    broker: str | None = None
    # A job on the queue that fails is tried again this many times, after job_retry_delay seconds,
    # then twice that, ...; then it goes to the quarantine queue with its reason (`veille jobs`).
    job_retries: int = 3
    job_retry_delay: float = 30.0


@dataclass(frozen=True)
class NLP:
    """Which spaCy pipeline tags which language; languages not listed use the fallback."""

    models: tuple[tuple[str, str], ...] = DEFAULT_NLP_MODELS
    batch_size: int = BATCH_SIZE


@dataclass(frozen=True)
class SMTP:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none, starttls or ssl
    username: str | None = None
    password_env: str | None = None  # the name of the variable holding the password, never the password
    sender: str = "veille@localhost"


@dataclass(frozen=True)
class Digest:
    name: str
    to: tuple[str, ...]
    query: str = ""  # search syntax, or the name of a saved search; empty: everything
    languages: tuple[str, ...] = ()
    schedule: str = "0 8 * * mon"  # cron: minute hour day month weekday
    timezone: str = "UTC"
    max_stories: int = 30
    subject: str = "veille {name}: {count} new stories, week to {date}"
    send_empty: bool = False
    first_window_days: int = 7


@dataclass(frozen=True)
class Config:
    path: Path
    settings: Settings = field(default_factory=Settings)
    sources: tuple[Source, ...] = ()
    nlp: NLP = field(default_factory=NLP)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    smtp: SMTP | None = None
    digests: tuple[Digest, ...] = ()

    def digest(self, name: str) -> Digest:
        for digest in self.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.digests) or "none (add a `digests:` list)"
        raise ConfigError(f'{self.path}: no digest named "{name}"; known digests: {known}')

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f'{self.path}: no source named "{name}"; known sources: {known}')

    @property
    def enabled_sources(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.enabled)


def _parses(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return bool(parts.hostname)


def load_config(path: str | Path) -> Config:
    """Read `path` and return a validated Config, or raise ConfigError (one line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; create it (see feeds.yaml in the veille repository) "
            "or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); save it as UTF-8 text") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{path}:{line}: not valid YAML ({problem}); check the indentation and quoting there"
        ) from None
    return _Validator(path).config(root)


class _Validator:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ConfigError(f"{self.path}:{line}: {message}")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of key: value lines")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                fix = f'did you mean "{hint[0]}"?' if hint else "allowed keys: " + ", ".join(allowed)
                raise self.fail(key_node, f'{what}: unknown key "{key}"; {fix}')
            if key in out:
                raise self.fail(key_node, f'{what}: key "{key}" is given twice; keep one')
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, not a list or mapping")
        try:
            return _CONSTRUCTOR.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError):
            raise self.fail(node, f"{what}: cannot read {node.value!r}; write a plain value without a !tag") from None

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if value is None or str(value).strip() == "":
            raise self.fail(node, f"{what} is empty; give it a value")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(node, f"{what}: {node.value!r} is not text; write it as plain text")
        return str(value).strip()

    def name(self, node: yaml.Node, what: str) -> str:
        """A source's or digest's name: shown in tables, logs and mail, so one line of printable text."""
        name = self.string(node, what)
        if CONTROL.search(name):
            raise self.fail(node, f"{what} {name!r} holds a line break or control character; write it on one line")
        return name

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.scalar(node, what)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false, not {node.value!r}")
        return value

    def interval(self, node: yaml.Node, what: str, most: int = MAX_INTERVAL) -> int:
        value = self.scalar(node, what)
        try:
            seconds = parse_interval(value)
        except ValueError:
            raise self.fail(
                node, f"{what}: {node.value!r} is not an interval; write a number and a unit, like 30s, 15m, 2h or 1d"
            ) from None
        if seconds > most:
            raise self.fail(node, f"{what}: {node.value!r} is longer than {_most(most)}; write at most {_most(most)}")
        return seconds

    def config(self, root: yaml.Node | None) -> Config:
        if root is None:
            raise self.fail(None, "the file is empty; add a `sources:` list (see README)")
        top = self.mapping(root, "top level", TOP_KEYS)
        settings = self.settings(top["settings"]) if "settings" in top else Settings()
        nlp = self.nlp(top["nlp"]) if "nlp" in top else NLP()
        dedupe = self.dedupe(top["dedupe"]) if "dedupe" in top else DedupeSettings()
        if "sources" not in top:
            raise self.fail(root, "no `sources:` list; add one with at least one source")
        sources_node = top["sources"]
        smtp = self.smtp(top["smtp"]) if "smtp" in top else None
        digests = self.digests(top["digests"]) if "digests" in top else ()
        extra = dict(smtp=smtp, digests=digests)
        if isinstance(sources_node, yaml.ScalarNode) and sources_node.value in ("", "~", "null"):
            return Config(path=self.path, settings=settings, sources=(), nlp=nlp, dedupe=dedupe, **extra)
        if not isinstance(sources_node, yaml.SequenceNode):
            raise self.fail(sources_node, "`sources:` must be a list, each item starting with '- name: ...'")
        sources: list[Source] = []
        seen: dict[str, int] = {}
        for index, node in enumerate(sources_node.value, start=1):
            source = self.source(node, index, settings)
            if source.name in seen:
                raise self.fail(
                    node,
                    f'source "{source.name}" is defined twice (first on line {seen[source.name]}); '
                    "give each source a unique name",
                )
            seen[source.name] = node.start_mark.line + 1
            sources.append(source)
        return Config(path=self.path, settings=settings, sources=tuple(sources), nlp=nlp, dedupe=dedupe, **extra)

    def smtp(self, node: yaml.Node) -> SMTP:
        fields = self.mapping(node, "smtp", SMTP_KEYS)
        values: dict[str, Any] = {}
        if "host" in fields:
            values["host"] = self.string(fields["host"], "smtp.host")
        if "port" in fields:
            port = self.scalar(fields["port"], "smtp.port")
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                raise self.fail(fields["port"], "smtp.port: write a port number, like 25, 465 or 587")
            values["port"] = port
        if "security" in fields:
            security = self.string(fields["security"], "smtp.security").lower()
            if security not in SMTP_SECURITY:
                raise self.fail(fields["security"], f'smtp.security: "{security}" is unknown; use none, starttls or ssl')
            values["security"] = security
        if "username" in fields:
            values["username"] = self.string(fields["username"], "smtp.username")
        if "password_env" in fields:
            name = self.string(fields["password_env"], "smtp.password_env")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.fail(fields["password_env"], "smtp.password_env: write the NAME of an environment variable "
                                                        "(like VEILLE_SMTP_PASSWORD), never the password itself")
            values["password_env"] = name
        if "username" in values and "password_env" not in values:
            raise self.fail(node, "smtp: a username needs password_env, the environment variable holding the password")
        if "from" not in fields:
            raise self.fail(node, 'smtp has no "from"; add the sender, like from: "veille <veille@example.org>"')
        values["sender"] = self.address(fields["from"], "smtp.from")
        return SMTP(**values)

    def address(self, node: yaml.Node, what: str) -> str:
        from email.utils import parseaddr

        value = self.string(node, what)
        address = parseaddr(value)[1]
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address) or any(c in value for c in "\r\n"):
            raise self.fail(node, f"{what}: {value!r} is not an email address; write one like name@example.org")
        return value

    def digests(self, node: yaml.Node) -> tuple[Digest, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "`digests:` must be a list, each item starting with '- name: ...'")
        found: list[Digest] = []
        for index, item in enumerate(node.value, start=1):
            found.append(self.digest(item, f"digest #{index}", found))
        return tuple(found)

    def digest(self, item: yaml.Node, what: str, found: list[Digest]) -> Digest:
        fields = self.mapping(item, what, DIGEST_KEYS)
        if "name" not in fields:
            raise self.fail(item, f"{what} has no name; add `name: ...`")
        name = self.name(fields["name"], f"{what}: name")
        what = f'digest "{name}"'
        if any(d.name == name for d in found):
            raise self.fail(fields["name"], f"{what} is defined twice; give each digest a unique name")
        if "to" not in fields or not isinstance(fields["to"], yaml.SequenceNode) or not fields["to"].value:
            raise self.fail(fields.get("to", item), f"{what}: `to` must be a list of addresses, like [a@example.org]")
        values: dict[str, Any] = dict(name=name, to=tuple(self.address(a, f"{what}: to") for a in fields["to"].value))
        if "query" in fields:
            query = self.scalar(fields["query"], f"{what}: query")
            values["query"] = "" if query is None else str(query)
        if "languages" in fields:
            values["languages"] = self.languages(fields["languages"], what)
        if "timezone" in fields:
            values["timezone"] = self.timezone(fields["timezone"], what)
        if "schedule" in fields:
            values["schedule"] = self.schedule(fields["schedule"], what)
        for key, low, high in (("max_stories", 1, 500), ("first_window_days", 1, 366)):
            if key in fields:
                value = self.scalar(fields[key], f"{what}: {key}")
                if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                    raise self.fail(fields[key], f"{what}: {key}: write a whole number from {low} to {high}")
                values[key] = value
        if "subject" in fields:
            values["subject"] = self.subject(fields["subject"], what)
        if "send_empty" in fields:
            values["send_empty"] = self.boolean(fields["send_empty"], f"{what}: send_empty")
        return Digest(**values)

    def languages(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what}: languages must be a list, like [fr, en]")
        langs = tuple(self.string(l, f"{what}: language").lower() for l in node.value)
        for lang, lang_node in zip(langs, node.value):
            if not _LANG_RE.match(lang):
                raise self.fail(lang_node, f'{what}: "{lang}" is not a language code; use one like en, fr')
        return langs

    def timezone(self, node: yaml.Node, what: str) -> str:
        zone = self.string(node, f"{what}: timezone")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(zone)
        except Exception:
            raise self.fail(node, f'{what}: unknown time zone "{zone}"; write one like Europe/Paris') from None
        return zone

    def schedule(self, node: yaml.Node, what: str) -> str:
        schedule = self.string(node, f"{what}: schedule")
        try:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(schedule)
        except ValueError as exc:
            raise self.fail(node, f"{what}: schedule {schedule!r} is not a cron line ({exc}); "
                                  'write minute hour day month weekday, like "0 8 * * mon"') from None
        return schedule

    def subject(self, node: yaml.Node, what: str) -> str:
        subject = self.string(node, f"{what}: subject")
        try:
            subject.format(count=0, name="", date="")
        except (KeyError, IndexError, ValueError):
            raise self.fail(node, f"{what}: subject may use only {{count}}, {{name}} and {{date}}") from None
        return subject

    def dedupe(self, node: yaml.Node) -> DedupeSettings:
        fields = self.mapping(node, "dedupe", DEDUPE_KEYS)
        values: dict[str, Any] = {}
        bounds = {"copy_jaccard": (0.3, 1.0), "translation_score": (0.05, 1.0), "translation_cover": (0.0, 1.0),
                  "length_ratio": (1.0, 5.0)}
        for key, (low, high) in bounds.items():
            if key in fields:
                value = self.scalar(fields[key], f"dedupe.{key}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    raise self.fail(fields[key], f"dedupe.{key}: write a number from {low} to {high}")
                values[key] = float(value)
        for key, (low, high) in {"min_shared_anchors": (1, 100), "window_days": (1, 36500)}.items():
            if key in fields:
                value = self.scalar(fields[key], f"dedupe.{key}")
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise self.fail(fields[key], f"dedupe.{key}: write a whole number from {low} to {high}")
                values[key] = value
        return DedupeSettings(**values)

    def nlp(self, node: yaml.Node) -> NLP:
        fields = self.mapping(node, "nlp", NLP_KEYS)
        models = DEFAULT_NLP_MODELS
        if "models" in fields:
            if not isinstance(fields["models"], yaml.MappingNode):
                raise self.fail(fields["models"], "nlp.models must map a language to a spaCy pipeline, like `de: de_core_news_sm`")
            pairs = []
            for key_node, value_node in fields["models"].value:
                lang = str(key_node.value).strip().lower()
                if not _LANG_RE.match(lang):
                    raise self.fail(key_node, f'nlp.models: "{lang}" is not a language code; use one like en, fr, de')
                pairs.append((lang, self.string(value_node, f"nlp.models.{lang}")))
            models = tuple(pairs)
        batch_size = BATCH_SIZE
        if "batch_size" in fields:
            value = self.scalar(fields["batch_size"], "nlp.batch_size")
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10_000:
                raise self.fail(fields["batch_size"], "nlp.batch_size: write a whole number from 1 to 10000")
            batch_size = value
        return NLP(models=models, batch_size=batch_size)

    def settings(self, node: yaml.Node) -> Settings:
        fields = self.mapping(node, "settings", SETTINGS_KEYS)
        values: dict[str, Any] = {}
        for key in ("user_agent", "contact"):
            if key in fields:
                values[key] = self.string(fields[key], f"settings.{key}")
                if re.search(r"[\x00-\x1f\x7f]", values[key]):
                    raise self.fail(fields[key], f"settings.{key}: one line of text, without control characters")
        if "user_agent" in fields:
            try:
                values["user_agent"].format(version="", contact="")
            except (KeyError, IndexError, ValueError, AttributeError):
                raise self.fail(fields["user_agent"], "settings.user_agent: only {version} and {contact} may stand "
                                "in braces; write {{ and }} for a brace itself") from None
        if "default_interval" in fields:
            values["default_interval"] = self.interval(fields["default_interval"], "settings.default_interval")
        if "timeout" in fields:
            seconds = self.interval(fields["timeout"], "settings.timeout", most=MAX_TIMEOUT)
            values["timeout"] = float(seconds)
        if "max_body" in fields:
            try:
                values["max_body"] = parse_size(self.scalar(fields["max_body"], "settings.max_body"))
                if values["max_body"] <= 0:
                    raise ValueError("not positive")
            except ValueError:
                raise self.fail(fields["max_body"], "settings.max_body: write a size like 10MB or 512KiB") from None
        if "max_redirects" in fields:
            value = self.scalar(fields["max_redirects"], "settings.max_redirects")
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 20:
                raise self.fail(fields["max_redirects"], "settings.max_redirects: write a whole number from 0 to 20")
            values["max_redirects"] = value
        for key, low, high in (("concurrency", 1, 256), ("per_host", 1, 4), ("workers", 1, MAX_WORKERS),
                               ("job_retries", 0, 20)):
            if key in fields:
                value = self.scalar(fields[key], f"settings.{key}")
                if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                    raise self.fail(fields[key], f"settings.{key}: write a whole number from {low} to {high}")
                values[key] = value
        for key, low, high in (("host_delay", 0.0, 60.0), ("max_crawl_delay", 0.0, 60.0), ("pause_after", 1.0, 1000.0),
                               ("job_retry_delay", 0.0, 3600.0)):
            if key in fields:
                value = self.scalar(fields[key], f"settings.{key}")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    unit = " (seconds)" if key != "pause_after" else ""
                    raise self.fail(fields[key], f"settings.{key}: write a number from {low:g} to {high:g}{unit}")
                values[key] = float(value)
        capture_settings(self, fields, values)
        server_settings(self, fields, values)
        return Settings(**values)

    def source(self, node: yaml.Node, index: int, settings: Settings) -> Source:
        what = f"source #{index}"
        fields = self.mapping(node, what, SOURCE_KEYS)
        if "name" not in fields:
            raise self.fail(node, f"{what} has no name; add `name: ...`")
        name = self.name(fields["name"], f"{what}: name")
        what = f'source "{name}"'
        if "url" not in fields:
            raise self.fail(node, f"{what} has no url; add `url: https://...`")
        url = self.string(fields["url"], f"{what}: url")
        if not re.match(r"^https?://[^/\s]+", url) or not _parses(url):
            raise self.fail(fields["url"], f"{what}: url {url!r} must start with http:// or https:// and name a host")
        kind = "feed"
        if "kind" in fields:
            kind = self.string(fields["kind"], f"{what}: kind")
            if kind not in SOURCE_KINDS:
                raise self.fail(fields["kind"], f'{what}: kind "{kind}" is unknown; use "feed" or "page" (or, '
                                'for a site without feeds, "sitemap" or "listing")')
        language = None
        if "language" in fields:
            language = self.string(fields["language"], f"{what}: language").lower()
            if not _LANG_RE.match(language):
                raise self.fail(fields["language"], f'{what}: language "{language}" is not a language code; use one like en, fr, de')
        tags: tuple[str, ...] = ()
        if "tags" in fields:
            tags_node = fields["tags"]
            if isinstance(tags_node, yaml.SequenceNode):
                tags = tuple(self.string(t, f"{what}: tag") for t in tags_node.value)
            else:
                raise self.fail(tags_node, f"{what}: tags must be a list, like [privacy, police]")
        interval = settings.default_interval
        if "interval" in fields:
            interval = self.interval(fields["interval"], f"{what}: interval")
        enabled = self.boolean(fields["enabled"], f"{what}: enabled") if "enabled" in fields else True
        robots = self.boolean(fields["robots"], f"{what}: robots") if "robots" in fields else True
        allow_private = (self.boolean(fields["allow_private"], f"{what}: allow_private")
                         if "allow_private" in fields else False)
        links = self.links(fields, what, kind)
        return Source(
            name=name, url=url, kind=kind, language=language, tags=tags,
            interval=interval, enabled=enabled, robots=robots, allow_private=allow_private, links=links,
        )

    def links(self, fields: dict, what: str, kind: str) -> str | None:
        """A listing's `links:`: a URL pattern, or a CSS selector that must compile."""
        if "links" in fields and kind != "listing":
            raise self.fail(fields["links"], f"{what}: links: is for kind: listing only")
        links = self.string(fields["links"], f"{what}: links").strip() if "links" in fields else None
        if links and not links.startswith(("/", "http://", "https://")):
            from cssselect import GenericTranslator, SelectorError
            try:
                GenericTranslator().css_to_xpath(links)
            except SelectorError as exc:
                raise self.fail(fields["links"], f"{what}: links: {links!r} is not a CSS selector ({exc}); write "
                                "one like `.press a`, or a URL pattern like /communiques/*") from None
        return links


def worker_count(settings: Settings, given: int | None = None) -> int:
    """How many NLP worker processes a run uses: `--workers`, else settings.workers, else
    VEILLE_WORKERS, else one per core this process may use. 1 means none: all in-process."""
    if given is not None:
        return max(1, given)
    if settings.workers is not None:
        return settings.workers
    chosen = os.environ.get("VEILLE_WORKERS", "").strip()
    if chosen.isdigit() and int(chosen) >= 1:
        return min(int(chosen), MAX_WORKERS)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))
