"""Research exports: the archive as a dataset, with full text, provenance and exact entity offsets.

    veille export [QUERY] --format jsonl|csv|parquet|spacy --out PATH

Rows come in article-id order, in batches (bounded memory whatever the
size), and the same archive and command give the same data file byte for
byte: nothing in a row depends on the time of the export. Beside every export
go a `datapackage.json` (Frictionless Data Package: the schema of every
field) and a `README.md` (the query and filters, counts, tool versions, and
a note on the articles' copyright): the dataset card.
"""

from __future__ import annotations

import csv
import glob
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterator

from veille import __version__
from veille.errors import ExportError
from veille.storage import Archive
from veille.text.times import utcnow

FORMATS = ("jsonl", "csv", "parquet", "spacy")
BATCH = 1000

# name, Frictionless type, description (the order of the columns)
FIELDS: list[tuple[str, str, str]] = [
    ("id", "string", "veille's article id (16 hex digits)"),
    ("url", "string", "the address the article was fetched from (file:// for imported files)"),
    ("canonical_url", "string", "the canonical address the page declares, or the URL"),
    ("source", "string", "the source's name in feeds.yaml (`import` for imported files)"),
    ("site_name", "string", "the site's own name, when the page gives it"),
    ("title", "string", "the article's title"),
    ("author", "string", "the author, when known"),
    ("published", "string", "publication date and time as given (ISO 8601), when known"),
    ("fetched", "string", "when veille fetched or imported it (ISO 8601, UTC)"),
    ("lang", "string", "ISO 639-1 language code detected from the text (`und`: undetermined)"),
    ("lang_confidence", "number", "the language detector's probability for `lang`, 0 to 1"),
    ("lang_shares", "object", "each language's fraction of the text's letters (a Han, kana or Hangul character "
                              "counting as three), judged paragraph by paragraph, "
                              "largest first ({\"es\": 0.52, \"en\": 0.48}: half left in English); {} when "
                              "undetermined or archived before veille measured it"),
    ("story_id", "string", "the story the article belongs to (copies and translations share it)"),
    ("relation", "string", "its relation to the story's original: original, duplicate, copy or translation"),
    ("original_id", "string", "the id of the story's original"),
    ("word_count", "integer", "number of words in `text`"),
    ("text", "string", "the clean text of the article (empty with --no-text)"),
    ("tags", "array", "topic tags (language-neutral slugs)"),
    ("entities", "array", "people, organisations, places and other names: objects with text, label "
                          "(PERSON, ORG, LOC, MISC), key (the same for every spelling), start and end "
                          "(character offsets: text[start:end] == entity text)"),
    ("content_hash", "string", "SHA-256 of the text with whitespace normalised"),
    ("tools", "object", "versions of what produced the row: veille, trafilatura, and the tagger "
                        "(spaCy pipeline and data files) for the article's language"),
]
HTML_FIELD = ("html", "string", "the page as received (with --with-html), for re-extraction")
# What a spaCy Doc of the export carries besides its text and entities, in Doc.user_data: enough to
# join it back to the JSONL/CSV/Parquet rows and to the archive (`veille show ID`).
SPACY_USER_DATA = ("id", "url", "source", "title", "published", "lang", "story_id", "relation", "original_id",
                   "content_hash")
SPACY_FIELDS: list[tuple[str, str, str]] = [
    ("text", "string", "Doc.text: the clean text of the article (empty with --no-text)"),
    ("ents", "array", "Doc.ents: the entities as token spans, label_ PERSON, ORG, LOC or MISC (where two "
                      "overlap, the first and longest is kept; a span is widened to whole tokens)"),
    *((f"user_data.{name}", kind, description) for name, kind, description in FIELDS if name in SPACY_USER_DATA),
]
ENTITY_FIELDS = [("article_id", "string", "the article's id"), ("start", "integer", "first character"),
                 ("end", "integer", "character after the last"), ("label", "string", "PERSON, ORG, LOC or MISC"),
                 ("text", "string", "the entity as written"), ("key", "string", "the entity key")]


@dataclass
class Selection:
    """What to export: a query and filters, every member or only the originals, with or without text."""
    query: str = ""
    lang: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None
    stories: str = "all"  # all | originals
    text: bool = True
    html: bool = False


def tool_versions() -> dict[str, str]:
    found = {"veille": __version__}
    for package in ("trafilatura", "spacy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def rows(archive: Archive, selection: Selection, matching: set[str] | None) -> Iterator[dict]:
    """The rows, in id order, a batch of articles at a time."""
    tools = tool_versions()
    for batch in archive.export_batches(lang=selection.lang, source=selection.source, since=selection.since,
                                        until=selection.until, batch=BATCH, with_raw=selection.html):
        ids = [a.id for a, _ in batch]
        entities_of, tags_of = archive.entities_of_many(ids), archive.tags_of_many(ids)
        for article, membership in batch:
            if matching is not None and article.id not in matching:
                continue
            relation = membership["relation"] if membership else "original"
            if selection.stories == "originals" and relation != "original":
                continue
            entities = entities_of[article.id]
            row = {
                "id": article.id, "url": article.url, "canonical_url": article.canonical_url or article.url,
                "source": article.source, "site_name": article.site_name, "title": article.title,
                "author": article.author, "published": article.published, "fetched": article.fetched,
                "lang": article.lang, "lang_confidence": round(article.lang_confidence, 4),
                "lang_shares": dict(article.lang_shares),
                "story_id": membership["story_id"] if membership else None, "relation": relation,
                "original_id": membership["original_id"] if membership else article.id,
                "word_count": len(article.text.split()), "text": article.text if selection.text else "",
                "tags": tags_of[article.id],
                "entities": [{"text": e.text, "label": e.label, "key": e.key, "start": e.start, "end": e.end}
                             for e in entities],
                "content_hash": article.text_hash,
                "tools": {**tools, "tagger": article.tagger or ""},
            }
            if selection.html:
                row["html"] = (article.raw or b"").decode("utf-8", errors="replace")
            yield row


class _Counts:
    def __init__(self) -> None:
        self.rows = 0
        self.stories: set[str] = set()
        self.by_lang: dict[str, int] = {}
        self.by_source: dict[str, int] = {}

    def add(self, row: dict) -> None:
        self.rows += 1
        self.stories.add(row["story_id"] or row["id"])
        self.by_lang[row["lang"]] = self.by_lang.get(row["lang"], 0) + 1
        self.by_source[row["source"]] = self.by_source.get(row["source"], 0) + 1


def export(archive: Archive, selection: Selection, fmt: str, out: Path, matching: set[str] | None,
           progress=None) -> dict:
    """Write the data file(s) and the dataset card; returns the counts."""
    if fmt not in FORMATS:
        raise ExportError(f"export: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    _check_out(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, mark in (("README.md", "# veille export"), ("datapackage.json", '"name": "veille-export"')):
        existing = out.parent / name
        if existing.exists() and mark not in existing.read_text(encoding="utf-8", errors="replace")[:2000]:
            raise ExportError(f"export: {existing} exists and is not from a veille export; the dataset card would "
                              f"replace it. Export into a folder of its own, like exports/{out.name}")
    counts = _Counts()

    def counted() -> Iterator[dict]:
        for row in rows(archive, selection, matching):
            counts.add(row)
            if progress:
                progress(row["id"])
            yield row

    # Everything is written under temporary names first and renamed at the end, the card last:
    # an export killed half way leaves the previous export whole, never an old card over new data.
    stage: list[tuple[Path, Path]] = []
    try:
        files = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "spacy": _spacy}[fmt](
            counted(), out, selection, stage)
        _card(out, fmt, files, selection, counts, stage)
        _commit(stage, out, fmt)
    finally:
        for temporary, _ in stage:
            temporary.unlink(missing_ok=True)
    return {"rows": counts.rows, "stories": len(counts.stories), "files": [str(f) for f in files]}


CARD_FILES = ("README.md", "datapackage.json")


def _check_out(out: Path, fmt: str) -> None:
    """--out names a regular file or a new path, never a device, a folder, the card or another export's part."""
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise ExportError(f"export: {parent} is a file, not a folder; choose another --out")
    if out.exists() and out.is_dir():
        raise ExportError(f"export: {out} is a folder; give a file name, like {out / ('articles.' + fmt)}")
    if out.exists() and not out.is_file():
        raise ExportError(f"export: {out} is not a regular file (a device, a pipe or a socket); give a new file name")
    if out.name in CARD_FILES:
        raise ExportError(f"export: {out.name} is the name of the dataset card written beside the data; "
                          f"give the data another name, like {out.with_name('articles.' + fmt)}")
    if fmt == "csv":
        if out.name.endswith(".entities.csv"):
            raise ExportError(f"export: {out.name} is the entity file of the export {out.name[:-13]}.csv; "
                              f"give another name, like {out.with_name('articles.csv')}")
        entities = _entities_path(out)
        if entities.exists() and not entities.is_file():
            raise ExportError(f"export: {entities} is not a regular file; choose another --out")


def _commit(stage: list[tuple[Path, Path]], out: Path, fmt: str) -> None:
    """Rename the data into place, drop older spaCy shards of the same name, and the card last."""
    data = [(t, p) for t, p in stage if p.name not in CARD_FILES]
    card = [(t, p) for t, p in stage if p.name in CARD_FILES]
    for _, path in card:
        path.unlink(missing_ok=True)  # from here until the end, no card describes the folder's data
    for temporary, path in data:
        temporary.replace(path)
    if fmt == "spacy":
        written = {path for _, path in data}
        for shard in out.parent.glob(f"{glob.escape(out.stem)}.[0-9][0-9][0-9][0-9]{glob.escape(out.suffix or '.spacy')}"):
            if shard not in written:
                shard.unlink()
    for temporary, path in card:
        temporary.replace(path)
    stage.clear()


def _entities_path(out: Path) -> Path:
    return out.with_name(out.stem + ".entities.csv")


def _fields(selection: Selection) -> list[tuple[str, str, str]]:
    return FIELDS + ([HTML_FIELD] if selection.html else [])


def _jsonl(items: Iterator[dict], out: Path, selection: Selection, stage: list) -> list[Path]:
    with _atomic(out, stage, "w") as handle:
        for row in items:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    return [out]


def _csv(items: Iterator[dict], out: Path, selection: Selection, stage: list) -> list[Path]:
    """Articles in `out`, one row per entity in the sibling `*.entities.csv`: CSV cannot nest."""
    entities_path = _entities_path(out)
    names = [name for name, _, _ in _fields(selection) if name != "entities"]
    with _atomic(out, stage, "w", newline="") as articles, _atomic(entities_path, stage, "w", newline="") as entities:
        write = csv.writer(articles, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        write_entity = csv.writer(entities, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        write.writerow(names)
        write_entity.writerow([name for name, _, _ in ENTITY_FIELDS])
        for row in items:
            write.writerow([_cell(row[name]) for name in names])
            for e in row["entities"]:
                write_entity.writerow([row["id"], e["start"], e["end"], e["label"], e["text"], e["key"]])
    return [out, entities_path]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else "|".join(value)
    return str(value)


def _parquet(items: Iterator[dict], out: Path, selection: Selection, stage: list) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    entity = pa.struct([("text", pa.string()), ("label", pa.string()), ("key", pa.string()),
                        ("start", pa.int64()), ("end", pa.int64())])
    types = {"number": pa.float64(), "integer": pa.int64(), "string": pa.string()}
    columns = []
    for name, kind, _ in _fields(selection):
        if name == "tags":
            columns.append((name, pa.list_(pa.string())))
        elif name == "entities":
            columns.append((name, pa.list_(entity)))
        elif name == "tools":
            columns.append((name, pa.map_(pa.string(), pa.string())))
        elif name == "lang_shares":
            columns.append((name, pa.map_(pa.string(), pa.float64())))
        else:
            columns.append((name, types[kind]))
    schema = pa.schema(columns)
    temporary = _fresh(out.with_name(out.name + ".tmp"))
    stage.append((temporary, out))
    with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
        batch: list[dict] = []
        for row in items:
            batch.append({**row, "tools": sorted(row["tools"].items()), "lang_shares": list(row["lang_shares"].items())})
            if len(batch) == BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return [out]


SPACY_SHARD = 250  # documents per DocBin file: a DocBin lives in memory until it is written


def _spacy(items: Iterator[dict], out: Path, selection: Selection, stage: list) -> list[Path]:
    """spaCy DocBins of the articles with their entities, for `spacy train` (give it the folder):
    `out` for the first 250 documents, then `out.0002.spacy` and so on, so memory stays bounded."""
    import spacy
    from spacy.tokens import DocBin

    blanks: dict[str, object] = {}
    written: list[Path] = []
    docs = DocBin(store_user_data=True)

    def flush() -> None:
        nonlocal docs
        path = out if not written else out.with_name(f"{out.stem}.{len(written) + 1:04d}{out.suffix or '.spacy'}")
        temporary = _fresh(path.with_name(path.name + ".tmp"))
        stage.append((temporary, path))
        docs.to_disk(temporary)
        written.append(path)
        docs = DocBin(store_user_data=True)

    for row in items:
        lang = row["lang"] if row["lang"] in ("en", "fr", "de", "es", "it", "nl", "pt") else "xx"
        nlp = blanks.get(lang) or blanks.setdefault(lang, spacy.blank(lang))
        doc = nlp.make_doc(row["text"])
        spans = [doc.char_span(e["start"], e["end"], label=e["label"], alignment_mode="expand")
                 for e in row["entities"]]
        kept, end = [], -1
        for span in sorted((s for s in spans if s is not None), key=lambda s: (s.start, -len(s))):
            if span.start >= end:  # spaCy entities may not overlap: the first, longest one wins
                kept.append(span)
                end = span.end
        doc.ents = kept
        doc.user_data.update({name: row[name] for name in SPACY_USER_DATA})
        docs.add(doc)
        if len(docs) == SPACY_SHARD:
            flush()
    if len(docs) or not written:
        flush()
    return written


def _fresh(temporary: Path) -> Path:
    """A temporary file name that is free: a leftover file or symlink there is removed, never written
    through, so nothing lands outside the export's folder; files are then created exclusively ("x")."""
    temporary.unlink(missing_ok=True)
    return temporary


class _atomic:
    """Write to FILE.tmp, staged to be renamed over FILE when the whole export is written
    (`_commit`): an interrupted export leaves no half file behind."""

    def __init__(self, path: Path, stage: list, mode: str, **kwargs) -> None:
        self.path, self.temporary = path, _fresh(path.with_name(path.name + ".tmp"))
        stage.append((self.temporary, path))
        self.handle = open(self.temporary, mode.replace("w", "x"), encoding="utf-8", **kwargs)

    def __enter__(self):
        return self.handle

    def __exit__(self, kind, *rest) -> None:
        self.handle.close()


def _card(out: Path, fmt: str, files: list[Path], selection: Selection, counts: _Counts, stage: list) -> None:
    """datapackage.json and README.md beside the data. Only the README says when it was made."""
    folder = out.parent
    with _atomic(folder / "datapackage.json", stage, "w") as handle:
        handle.write(json.dumps(_package(_resources(fmt, files, selection)), indent=2, ensure_ascii=False) + "\n")
    with _atomic(folder / "README.md", stage, "w") as handle:
        handle.write("\n".join(_readme(fmt, files, selection, counts)))


def _resources(fmt: str, files: list[Path], selection: Selection) -> list[dict]:
    """The Data Package's resources: the data files and the schema of their fields."""
    media = {"jsonl": "application/jsonl", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
             "spacy": "application/octet-stream"}[fmt]
    fields = [{"name": n, "type": t, "description": d} for n, t, d in _fields(selection)]
    resources = []
    if fmt == "csv":
        resources.append({"name": "articles", "path": files[0].name, "profile": "tabular-data-resource",
                          "format": "csv", "mediatype": media, "encoding": "utf-8",
                          "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"', "header": True},
                          "schema": {"fields": [dict(f, type="string", format="default") if f["name"] in ("tags", "tools")
                                                else f for f in fields if f["name"] != "entities"],
                                     "primaryKey": ["id"]}})
        resources.append({"name": "entities", "path": files[1].name, "profile": "tabular-data-resource",
                          "format": "csv", "mediatype": media, "encoding": "utf-8",
                          "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in ENTITY_FIELDS],
                                     "foreignKeys": [{"fields": ["article_id"],
                                                      "reference": {"resource": "articles", "fields": ["id"]}}]}})
    elif fmt == "spacy":  # described as it is: Docs, their entities and user_data, in one file or shards
        resources.append({"name": "articles", "path": [f.name for f in files] if len(files) > 1 else files[0].name,
                          "format": "spacy", "mediatype": media,
                          "description": "spaCy DocBin files (spacy.tokens.DocBin().from_disk), one Doc per article; "
                                         "Doc.user_data['id'] is the article id",
                          "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in SPACY_FIELDS],
                                     "primaryKey": ["user_data.id"]}})
    else:
        resources.append({"name": "articles", "path": files[0].name, "format": fmt, "mediatype": media,
                          "schema": {"fields": fields, "primaryKey": ["id"]}})
    return resources


def _package(resources: list[dict]) -> dict:
    return {
        "profile": "data-package",
        "name": "veille-export",
        "title": "Articles exported from a veille archive",
        "description": "Full text, language, stories, topic tags and entities with character offsets. "
                       "See README.md for the query, the counts and the copyright note.",
        "licenses": [{"name": "other-closed", "title": "Articles remain under their publishers' copyright"}],
        "sources": [{"title": "veille", "path": "https://github.com/veille-project/veille"}],
        "resources": resources,
    }


def _readme(fmt: str, files: list[Path], selection: Selection, counts: _Counts) -> list[str]:
    """The dataset card's lines: what was selected, what came out, with which tools, and the copyright."""
    filters = {k: v for k, v in (("query", selection.query), ("lang", selection.lang), ("source", selection.source),
                                 ("since", selection.since), ("until", selection.until),
                                 ("stories", selection.stories)) if v}
    return [
        "# veille export", "",
        f"Made {utcnow():%Y-%m-%d %H:%M} UTC by veille {__version__}.", "",
        "## What is in it", "",
        f"- Files: {', '.join(f.name for f in files)} ({fmt}); schema in `datapackage.json`.",
        f"- Selection: {', '.join(f'{k} = {v!r}' for k, v in filters.items()) or 'every article'}"
        + ("; without text" if not selection.text else "") + ("; with the raw HTML" if selection.html else "") + ".",
        f"- {counts.rows} articles in {len(counts.stories)} stories.",
        "- By language: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.by_lang.items(), key=lambda x: -x[1]))
                             or "none") + ".",
        "- By source: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.by_source.items(), key=lambda x: -x[1]))
                           or "none") + ".",
        "- Tools: " + ", ".join(f"{k} {v}" for k, v in tool_versions().items())
        + "; each row's `tools.tagger` names the spaCy pipeline and data files that tagged it.", "",
        "Rows are in article-id order; the same archive and the same command give the same data file.",
        "Entity offsets are character offsets into `text`: `text[start:end]` is the entity as written.", "",
        "## Copyright", "",
        "The articles belong to their authors and publishers. This export is for research, criticism",
        "and reporting as the law where you work allows (text and data mining exceptions, fair use,",
        "quotation); do not republish the texts. Cite the articles by their URL.", "",
    ]
