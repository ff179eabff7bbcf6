"""The tagging stages for a run (entities, topics), and `veille retag`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from veille.config.settings import NLP, Config
from veille.models import Article
from veille.pipeline.reports import Failure, Progress, RunReport, notify
from veille.stages.entities import EntityTagger, KnownName, capped_note, data_fingerprint
from veille.stages.topics import TopicTagger
from veille.storage import Archive
from veille.text.keys import DATA
from veille.text.times import Clock, iso, utcnow

if TYPE_CHECKING:
    from veille.pipeline.workers import Workers

logger = logging.getLogger(__name__)

class Taggers:
    """The tagging stages for one run: entities (spaCy + gazetteer) and topics."""

    def __init__(self, config: Config | None = None, archive: Archive | None = None) -> None:
        nlp = config.nlp if config else NLP()
        known = [KnownName(*row) for row in archive.known_names()] if archive else []
        self._setup(nlp, known)

    @classmethod
    def of(cls, nlp: NLP, known: list[KnownName]) -> "Taggers":
        """The taggers of these settings and archive names (a worker process builds its own)."""
        taggers = cls.__new__(cls)
        taggers._setup(nlp, known)
        return taggers

    def _setup(self, nlp: NLP, known: list[KnownName]) -> None:
        self.nlp = nlp  # the models are loaded when first used, here or in a worker process
        self.entities = EntityTagger(dict(nlp.models), known_names=known, batch_size=nlp.batch_size)
        self.topics = TopicTagger()
        self.topics_fingerprint = data_fingerprint(DATA / "topics.yaml")
        self.batch_size = nlp.batch_size

    def describe(self, lang: str) -> str:
        return f"{self.entities.describe(lang)}; topics {self.topics_fingerprint}"

    def report_problems(self, report: "RunReport", heard: dict[str, str] | None = None) -> None:
        """A configured model that is missing is said once per run, not per article (`heard`: what
        the worker processes found, to say along with this process's)."""
        for lang, problem in sorted({**(heard or {}), **self.entities.problems}.items()):
            report.failures.append(Failure("nlp", lang, problem))

    def tag(self, articles: list[Article]) -> None:
        """Fill in entities, tags and tagger; a failure leaves the articles untagged, with a note."""
        if not articles:
            return
        try:
            found = self.entities.tag([(a.text, a.lang) for a in articles])
            for article, entities in zip(articles, found):
                article.entities = entities
                article.tags = self.topics.tag(article.text, article.lang)
                article.tagger = self.describe(article.lang)
                capped = capped_note(article.text)
                if capped and capped not in (article.note or ""):
                    article.note = f"{article.note}; {capped}" if article.note else capped
        except Exception as exc:  # a model failing must not cost the articles themselves
            logger.debug("tagging failed", exc_info=True)
            for article in articles:
                article.entities, article.tags, article.tagger = [], [], None
                reason = f"not tagged ({type(exc).__name__}: {exc}); run `veille retag`"
                article.note = f"{article.note}; {reason}" if article.note else reason


def retag(
    config: Config | None,
    archive: Archive,
    *,
    lang: str | None = None,
    taggers: Taggers | None = None,
    clock: Clock = utcnow,
    progress: Progress | None = None,
    workers: "int | Workers | None" = None,
) -> RunReport:
    """Tag again every article not tagged by the current models and data files.

    Batch by batch, each committed: an interrupted retag resumes where it stopped. With worker
    processes (`workers`, else settings.workers), several batches are tagged at once.
    """
    from veille.pipeline.workers import workers_for

    given = taggers is not None
    taggers = taggers or Taggers(config, archive)
    pool, own = workers_for(config.settings if config else None, workers, taggers, given)
    try:
        report = _retag(archive, lang, taggers, pool, clock, progress)
    finally:
        if own and pool is not None:
            pool.close()
    taggers.report_problems(report, pool.problems if pool else None)
    return report


def _retag(archive: Archive, lang: str | None, taggers: Taggers, pool: "Workers | None", clock: Clock,
           progress: Progress | None) -> RunReport:
    from veille.pipeline import workers

    report = RunReport()
    langs = [lang] if lang else list(archive.counts_by_lang())
    # The descriptions come from where the tagging happens: the workers load the models, not this process.
    described = pool.run(langs, workers.describe_langs, 1) if pool else [taggers.describe(code) for code in langs]
    notify(progress, "total", str(sum(archive.count_to_tag(code, current) for code, current in zip(langs, described))))
    size = taggers.batch_size * (2 * pool.count if pool else 1)  # a batch for each worker, and one more waiting
    for code, current in zip(langs, described):
        while True:
            batch = archive.articles_to_tag(code, current, size)
            if not batch:
                break
            if pool:
                batch = pool.run(batch, workers.tag_articles, taggers.batch_size)
            else:
                taggers.tag(batch)
            for article in batch:
                if article.tagger is None:  # tagging failed: stop instead of looping on it
                    report.fail("retag", article.id, article.note or "tagging failed")
                    return report
                archive.save_tagging(article, iso(clock()))
                report.count("updated", article.id)
                notify(progress, "file", article.id)
    return report
