"""Editing feeds.yaml for `veille feeds ...`: add, remove, fix URLs, OPML in and out.

The file is a person's file: edits go through ruamel.yaml's round-trip mode,
which keeps comments, key order and quoting as they were. Every edit is
checked by the same validator as a normal start (`config.parse_config`)
before it replaces the file, atomically, so a failed edit never leaves a
broken or half-written feeds.yaml behind.
"""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from veille.config.settings import CONTROL, Config, Source, _parses, parse_config
from veille.errors import ConfigError



def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


class FeedsFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = "sources:\n"
        self._yaml = _yaml()
        parse_config(text, self.path)  # refuse to edit a file that is already broken: say where, first
        self.data = self._yaml.load(text) or CommentedMap()
        if self.data.get("sources") is None:
            self.data["sources"] = CommentedSeq()

    @property
    def sources(self) -> CommentedSeq:
        return self.data["sources"]

    def find(self, name: str) -> CommentedMap | None:
        return next((s for s in self.sources if str(s.get("name")) == name), None)

    def names(self) -> set[str]:
        return {str(s.get("name")) for s in self.sources}

    def urls(self) -> set[str]:
        return {str(s.get("url")) for s in self.sources}

    def unique_name(self, wanted: str) -> str:
        name, n = wanted, 2
        while name in self.names():
            name, n = f"{wanted} ({n})", n + 1
        return name

    def add(self, name: str, url: str, *, kind: str = "feed", language: str | None = None,
            tags: list[str] | None = None, links: str | None = None) -> None:
        if name in self.names():
            raise ConfigError(f"{self.path}: a source named {name!r} exists already; pick another --name")
        entry = CommentedMap(name=name, url=url)
        if kind != "feed":
            entry["kind"] = kind
        if language:
            entry["language"] = language
        if links:
            entry["links"] = links
        if tags:
            entry["tags"] = CommentedSeq(tags)
            entry["tags"].fa.set_flow_style()
        self.sources.append(entry)

    def remove(self, name: str) -> bool:
        """Remove a source with the comment lines just above it; every other source keeps its own.

        Done on the text: ruamel.yaml files a comment line under the item *before* it, so deleting
        the item would take the next source's comment away and leave this one's behind.
        """
        index = next((i for i, s in enumerate(self.sources) if str(s.get("name")) == name), None)
        if index is None:
            return False
        text = self._text()
        data = self._yaml.load(text)
        items = data["sources"]
        lines = text.splitlines(keepends=True)

        def with_comments(line: int) -> int:  # the first of the comment lines right above `line`
            while line > 0 and lines[line - 1].strip().startswith("#"):
                line -= 1
            return line

        start = items[index].lc.line
        dash = len(lines[start]) - len(lines[start].lstrip(" -")) - 2 if lines[start].lstrip().startswith("-") else 0
        begin = with_comments(start)
        if index + 1 < len(items):
            end = with_comments(items[index + 1].lc.line)
        else:
            end = start + 1
            while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > dash):
                end += 1
        self.data = self._yaml.load("".join(lines[:begin] + lines[end:])) or CommentedMap()
        if self.data.get("sources") is None:
            self.data["sources"] = CommentedSeq()
        return True

    def _text(self) -> str:
        buffer = io.StringIO()
        self._yaml.dump(self.data, buffer)
        return buffer.getvalue()

    def set_url(self, name: str, url: str) -> bool:
        source = self.find(name)
        if source is None:
            return False
        source["url"] = url
        return True

    def save(self) -> Config:
        """Validate the edited file as veille will read it, then replace the old one atomically."""
        text = self._text()
        config = parse_config(text, self.path)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)
        return config


# -- OPML ---------------------------------------------------------------------------------


@dataclass
class Outline:
    name: str
    url: str
    language: str | None = None
    tags: tuple[str, ...] = ()


def read_opml(path: Path) -> tuple[list[Outline], list[str]]:
    """Feeds of an OPML file (nested folders become tags), and the feed URLs skipped (not http/https,
    or not a URL at all)."""
    try:
        root = _parse_opml(path.read_bytes())
    except (OSError, ET.ParseError) as exc:
        raise ConfigError(f"{path}: not a readable OPML file ({exc}); export it again from your feed reader") from None
    if root.tag != "opml" or root.find("body") is None:
        raise ConfigError(f"{path}: no <opml><body> in it; is this an OPML export?")
    found: list[Outline] = []
    skipped: list[str] = []
    stack = [(iter(root.find("body").findall("outline")), ())]
    while stack:  # depth first, in document order, without recursion: deep nesting cannot crash it
        children, folders = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
        # A stranger's title becomes a name in feeds.yaml, tables and logs: one line, no controls.
        title = " ".join(CONTROL.sub(" ", child.get("title") or child.get("text") or "").split())
        if not url:
            stack.append((iter(child.findall("outline")), folders + ((_slug(title),) if title else ())))
        elif not re.match(r"^https?://[^/\s]+", url) or not _parses(url):  # "http://[::1/feed" included
            skipped.append(url)
        else:
            lang = (child.get("language") or "").strip().lower()[:2]
            tags = tuple(dict.fromkeys(folders + _category_tags(child.get("category") or "")))
            found.append(Outline(title or urlsplit(url).hostname or url, url,
                                 lang if re.fullmatch(r"[a-z]{2}", lang) else None, tags))
    return found, skipped


# "&" not starting an entity or character reference: feed readers write query strings raw
# ("?a=1&b=2"), which XML forbids; listparser and browsers read them as a plain "&".
_RAW_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


def _parse_opml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        escaped = _RAW_AMPERSAND.sub(b"&amp;", data)
        if escaped == data:
            raise
        return ET.fromstring(escaped)


def _category_tags(category: str) -> tuple[str, ...]:
    """OPML 2.0's category attribute: comma-separated tags or /folder/paths, as we write it on export."""
    parts = (part for item in category.split(",") for part in item.split("/"))
    return tuple(slug for slug in (_slug(part.strip()) for part in parts) if slug)


def write_opml(sources: tuple[Source, ...], title: str = "veille sources") -> str:
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(opml, "body")
    for source in sources:
        if source.kind != "feed":
            continue
        attributes = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.url}
        if source.language:
            attributes["language"] = source.language
        if source.tags:
            attributes["category"] = ",".join(source.tags)
        ET.SubElement(body, "outline", attributes)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-")
