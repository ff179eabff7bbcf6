"""The archive's tables as tables, for moving an archive between backends (`veille archive copy`).

Both backends keep the same tables with the same columns (the PostgreSQL schema was written from the
SQLite one), so an archive moves table by table: rows read in key order a batch at a time, written in
one transaction per batch. The order below lets every row find what it refers to. `article_changes`
is not copied: the destination numbers its own changes as rows arrive, and its search index is built
from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]  # the order rows are read and resumed in; () for tables without a key
    columns: tuple[str, ...]


def _t(name: str, key: str, columns: str) -> Table:
    return Table(name, tuple(key.split()), tuple(columns.split()))


ARTICLE_COLUMNS = ("id url canonical_url source title author published fetched lang lang_confidence lang_reason "
                   "site_name description html_lang origin note text text_hash raw raw_type extractor alternates "
                   "revision first_seen updated tagger tagged_at lang_shares")

TABLES: tuple[Table, ...] = (
    _t("sources", "name", "name url kind etag last_modified last_fetch last_success last_status last_error "
       "last_error_at consecutive_failures health failing_since paused_since next_attempt error_kind "
       "not_modified_streak moved_to moved_at"),
    _t("articles", "id", ARTICLE_COLUMNS),
    _t("revisions", "article_id revision", "article_id revision title text text_hash raw fetched extractor replaced_at"),
    _t("entries", "source key", "source key url article_id first_seen"),
    _t("failures", "source url stage", "source url stage reason first_at last_at count"),
    _t("entities", "article_id start_char end_char", "article_id start_char end_char label text key origin"),
    _t("tags", "article_id tag", "article_id tag"),
    _t("fingerprints", "article_id", "article_id minhash credit"),
    _t("lsh", "", "band hash article_id"),
    _t("anchor_lsh", "", "band hash article_id"),
    _t("anchors", "anchor article_id", "anchor article_id"),
    _t("alternate_links", "", "url article_id"),
    _t("text_sizes", "article_id", "article_id size"),
    _t("stories", "id", "id original_id"),
    _t("story_members", "article_id", "article_id story_id relation linked_to score evidence explicit"),
    _t("dedupe_state", "name", "name value"),
    _t("saved_searches", "name", "name query options created"),
    _t("digest_sends", "id", "id digest window_start window_end sent_at message_id recipients refused stories status"),
)
