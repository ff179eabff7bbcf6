"""The weekly digest: the stories new since the last successful send, in members' inboxes, exactly once.

    select_stories -> render (Jinja2: HTML and text) -> build_message -> send -> record

A digest covers the stories first archived since that digest was last sent
successfully (not "the last seven days": a digest that could not go out last
week covers both weeks; a first digest covers `first_window_days`). A send
is recorded in the archive, with its window, recipients, refusals and
Message-ID, only once the SMTP server has accepted the message; a second
send in the same scheduled period sends nothing unless forced. If the server
is down nothing is marked, and the next attempt covers the same window.

Every string that comes from an article is escaped by Jinja2's autoescape in
the HTML part; headers are built by `email.message.EmailMessage`, which
refuses line breaks, and never hold article text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import quote
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from jinja2 import Environment, PackageLoader, StrictUndefined

from veille.config.settings import Digest, SMTP
from veille.errors import DigestError, MailError, MailRefusedError, MailSendError
from veille.net.mail import open_smtp
from veille.storage import Archive
from veille.text.times import iso, parse, utcnow

SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"«“A-ZÀ-ÖØ-Þ0-9])")


@dataclass
class StoryItem:
    story_id: str
    title: str
    url: str
    source: str
    date: str
    lang: str
    translations: list[str]
    copies: int
    sources: int
    opening: str
    entities: list[str]
    tags: list[str]
    first_seen: str


@dataclass
class Issue:
    """One digest, ready to render."""
    digest: Digest
    window_start: datetime
    window_end: datetime
    groups: list[tuple[str, list[StoryItem]]] = field(default_factory=list)
    articles: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    top_entities: list[str] = field(default_factory=list)
    top_topics: list[str] = field(default_factory=list)
    more: int = 0  # stories over max_stories, left out

    @property
    def stories(self) -> list[StoryItem]:
        return [s for _, items in self.groups for s in items]


# -- the window ------------------------------------------------------------------------------------


def period_start(digest: Digest, now: datetime) -> datetime:
    """The most recent scheduled time at or before `now` (the start of the current period).

    Looks back an hour, then a day, a week, a month, a year: the first span holding a fire time
    holds the latest one, and a frequent schedule costs a few steps, not thousands.
    """
    trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
    for span in (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=400)):
        moment, last = trigger.get_next_fire_time(None, now - span), None
        while moment is not None and moment <= now:
            last = moment
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if last is not None:
            return last.astimezone(timezone.utc)
    return now


def window(archive: Archive, digest: Digest, now: datetime, *, force: bool = False,
           preview: bool = False) -> tuple[datetime, datetime] | None:
    """(start, end] of the next send, or None when this period's digest went out already.

    `force` sends the last window again (and what came since); `preview` ignores the period.
    """
    last = archive.last_digest(digest.name)
    if last is None:
        return now - timedelta(days=digest.first_window_days), now
    if force:
        return parse(last["window_start"]), now
    if not preview and parse(last["sent_at"]) >= period_start(digest, now):
        return None
    return parse(last["window_end"]), now


# -- what goes in ------------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the chosen stories hold, over all of them (before the cut at max_stories)."""
    articles: int = 0
    languages: Counter = field(default_factory=Counter)
    entity_counts: Counter = field(default_factory=Counter)  # key -> stories naming it
    entity_names: dict[str, str] = field(default_factory=dict)  # key -> the first spelling met


def select(archive: Archive, digest: Digest, start: datetime, end: datetime, matching: set[str] | None) -> Issue:
    """The stories first archived in (start, end] that match, ranked and grouped by topic."""
    issue = Issue(digest, start, end)
    tally = _Tally()
    chosen: list[tuple[tuple, StoryItem]] = []
    for story_id in archive.stories_first_seen_between(iso(start), iso(end)):
        picked = _story(archive, digest, story_id, matching, tally)
        if picked is not None:
            chosen.append(picked)
    chosen.sort(key=lambda pair: (pair[0], pair[1].story_id))
    items = [item for _, item in chosen]
    issue.more = max(0, len(items) - digest.max_stories)
    items = items[:digest.max_stories]
    tag_counts = Counter(t for item in items for t in item.tags)
    groups: dict[str, list[StoryItem]] = {}
    for item in items:
        tag = max(item.tags, key=lambda t: (tag_counts[t], t)) if item.tags else "other"
        groups.setdefault(tag, []).append(item)
    issue.groups = sorted(groups.items(), key=lambda g: (g[0] == "other", -len(g[1]), g[0]))
    issue.articles = tally.articles
    issue.languages = dict(tally.languages.most_common())
    issue.top_entities = [tally.entity_names[k] for k, _ in tally.entity_counts.most_common(5)]
    issue.top_topics = [t for t, _ in tag_counts.most_common(5)]
    return issue


def _story(archive: Archive, digest: Digest, story_id: str, matching: set[str] | None,
           tally: _Tally) -> tuple[tuple, StoryItem] | None:
    """One story's rank and item, counted into `tally`; None when none of it is in the digest."""
    members = archive.story_members(story_id)
    members_in = [m for m in members if m["lang"] in digest.languages] if digest.languages else members
    if not members_in:
        return None
    if matching is not None and not any(m["article_id"] in matching for m in members_in):
        return None
    original = next((m for m in members if m["relation"] == "original"), members[0])
    if digest.languages and original["lang"] not in digest.languages:
        original = members_in[0]
    article = archive.get_article(original["article_id"])
    if article is None:
        return None
    found = Counter()
    for entity in archive.entities_of(article.id):
        found[entity.key] += 1
        tally.entity_names.setdefault(entity.key, entity.text)
    tally.entity_counts.update(found.keys())
    tally.articles += len(members_in)
    tally.languages.update(m["lang"] for m in members_in)
    item = StoryItem(
        story_id=story_id, title=article.title or "(no title)", url=_link(article),
        source=_origin(article),
        date=(article.published or article.fetched or "")[:10], lang=article.lang,
        translations=sorted({m["lang"] for m in members if m["relation"] == "translation"} - {article.lang}),
        copies=sum(1 for m in members if m["relation"] in ("copy", "duplicate")),
        sources=len({m["source"] for m in members}), opening=opening(article.text),
        entities=[tally.entity_names[k] for k, _ in found.most_common(5)],
        tags=sorted({t for m in members for t in archive.tags_of(m["article_id"])}),
        first_seen=min(m["first_seen"] for m in members),
    )
    rank = (-item.sources, -len({m["lang"] for m in members}), -_ordinal(article.published or item.first_seen))
    return rank, item


def _link(article) -> str:
    """The address to link to: the canonical one if it is a web address, else the one fetched; none
    for an imported file (a file:// address would tell recipients a path on the keeper's disk)."""
    for candidate in (article.canonical_url, article.url):
        if candidate and candidate.split(":", 1)[0].lower() in ("http", "https"):
            return candidate
    return ""


def _origin(article) -> str:
    """Who published it, as recipients should read it: an imported file names its site if it knows
    it, and says it was imported; never the file's name or path."""
    if article.source != "import":
        return article.source
    return f"{article.site_name} (imported copy)" if article.site_name else "an imported file"


def opening(text: str, sentences: int = 3, limit: int = 400) -> str:
    """The first two or three sentences of an article, at most `limit` characters."""
    flat = " ".join(text.split())
    parts = SENTENCE.split(flat)
    piece = ""
    for part in parts[:sentences]:
        if piece and len(piece) + len(part) > limit:
            break
        piece = f"{piece} {part}".strip()
    if len(piece) > limit:
        piece = piece[:limit].rsplit(" ", 1)[0] + "…"
    return piece


def matching_ids(archive: Archive, digest: Digest) -> set[str] | None:
    """Ids of the articles the digest's query matches (None: no query, everything)."""
    from veille.app.queries import find_ids, resolve_saved
    from veille.search import Filters

    query = digest.query.strip()
    if not query:
        return None
    query, lang, source = resolve_saved(archive, query, required=False) or (query, None, None)
    ids, _ = find_ids(archive, None, query, Filters(lang=lang, source=source))
    return set(ids)


# -- the message ----------------------------------------------------------------------------------


def _environment() -> Environment:
    return Environment(loader=PackageLoader("veille", "templates"), undefined=StrictUndefined,
                       autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                       trim_blocks=True, lstrip_blocks=True)


def render(issue: Issue, smtp: SMTP | None) -> tuple[str, str]:
    """(plain text, HTML) of a digest."""
    env = _environment()
    tz = ZoneInfo(issue.digest.timezone)
    context = dict(
        issue=issue, digest=issue.digest, stories=issue.stories,
        start=issue.window_start.astimezone(tz).strftime("%d %b %Y"),
        end=issue.window_end.astimezone(tz).strftime("%d %b %Y"),
        sender=(smtp.sender if smtp else ""), unsubscribe=unsubscribe_address(issue.digest, smtp),
    )
    return env.get_template("digest.txt.j2").render(**context), env.get_template("digest.html.j2").render(**context)


def unsubscribe_address(digest: Digest, smtp: SMTP | None) -> str:
    address = parseaddr(smtp.sender)[1] if smtp else ""
    return f"mailto:{address}?subject={quote('unsubscribe ' + digest.name)}" if address else ""


def build_message(issue: Issue, smtp: SMTP | None, now: datetime) -> EmailMessage:
    text, html = render(issue, smtp)
    message = EmailMessage()
    subject = issue.digest.subject.format(count=len(issue.stories), name=issue.digest.name,
                                          date=issue.window_end.astimezone(ZoneInfo(issue.digest.timezone))
                                          .strftime("%d %b %Y"))
    sender = smtp.sender if smtp else "veille@localhost"
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(issue.digest.to)
    message["Date"] = format_datetime(now.astimezone(timezone.utc))
    domain = (parseaddr(sender)[1].rsplit("@", 1) + ["localhost"])[1] if "@" in sender else "localhost"
    message["Message-ID"] = make_msgid("veille-digest", domain=domain)
    unsubscribe = unsubscribe_address(issue.digest, smtp)
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


# -- sending ----------------------------------------------------------------------------------------


@dataclass
class Sent:
    message_id: str
    accepted: list[str]
    refused: dict[str, str]


def send(message: EmailMessage, smtp: SMTP, recipients: list[str], timeout: float = 30.0) -> Sent:
    """Hand the message to the SMTP server. Raises DigestError when nobody got it."""
    try:
        with open_smtp(smtp, timeout) as mailer:
            refusals = mailer.send(message, recipients)
    except MailRefusedError as exc:
        raise DigestError(f"{exc}; check the addresses in feeds.yaml") from None
    except MailSendError as exc:
        raise DigestError(f"{exc}; nothing was marked as sent, the next attempt covers the same stories") from None
    except MailError as exc:
        raise DigestError(str(exc)) from None
    return Sent(message["Message-ID"], [r for r in recipients if r not in refusals], refusals)


def run(archive: Archive, digest: Digest, smtp: SMTP | None, *, matching_ids, now: datetime | None = None,
        send_it: bool = False, force: bool = False) -> tuple[Issue | None, EmailMessage | None, Sent | None, str]:
    """Select, render and (with `send_it`) send one digest; returns what happened in words too."""
    now = now or utcnow()
    last = archive.last_digest(digest.name)
    span = window(archive, digest, now, force=force, preview=not send_it)
    if span is None:
        return None, None, None, _already_sent(digest, last, now)
    issue = select(archive, digest, span[0], span[1], matching_ids)
    if not issue.stories and not digest.send_empty:
        return issue, None, None, (f"digest {digest.name}: nothing new since {span[0]:%Y-%m-%d %H:%M} UTC; "
                                   "not sent (set send_empty: true to send a short note instead)")
    message = build_message(issue, smtp, now)
    if not send_it:
        return issue, message, None, f"digest {digest.name}: {len(issue.stories)} stories (dry run, nothing sent)"
    if smtp is None:
        raise DigestError("digest: no `smtp:` section in feeds.yaml; add one (host, port, security, from) to send")
    # The intent is recorded before the message goes out: a second sender (another --send, veille
    # run) sees it and sends nothing, and so does the next send after a kill between the server's
    # "accepted" and our record of it. A send that reached nobody is forgotten again.
    claim = archive.claim_digest(digest.name, last["id"] if last else None, iso(span[0]), iso(span[1]),
                                 iso(now), message["Message-ID"], len(issue.stories))
    if claim is None:
        return None, None, None, _already_sent(digest, archive.last_digest(digest.name), now)
    try:
        sent = send(message, smtp, list(digest.to))
    except DigestError:  # nobody got it; anything else (a kill, Ctrl-C) may have come after the server took it
        archive.release_digest(claim)
        raise
    archive.complete_digest(claim, sent.accepted, sent.refused)
    said = f"digest {digest.name}: {len(issue.stories)} stories sent to {len(sent.accepted)} recipient(s)"
    if sent.refused:
        said += f"; refused: {', '.join(f'{k} ({v})' for k, v in sent.refused.items())}"
    return issue, message, sent, said


def _already_sent(digest: Digest, last: dict | None, now: datetime) -> str:
    if last and last.get("status") == "sending":
        return (f"digest {digest.name}: a send of this period started {last['sent_at']} was not completed "
                f"(Message-ID {last['message_id']}): another veille is sending it now, or it was interrupted "
                "after the message went to the server; it may have been delivered: check an inbox, and --force "
                "sends it again")
    return (f"digest {digest.name}: already sent for this period "
            f"(since {period_start(digest, now):%Y-%m-%d %H:%M} UTC); --force sends it again")


def _ordinal(value: str | None) -> int:
    digits = re.sub(r"\D", "", value or "")[:14]
    return int(digits.ljust(14, "0")) if digits else 0
