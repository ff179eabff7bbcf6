"""The weekly digest, sent through a real SMTP server on localhost (aiosmtpd) and read back."""

import email
import json
import shutil
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from conftest import FIXTURES, SEEDS, Cli

HOSTILE_TITLE = '<script>alert("x")</script> Cameras in <b>Nice & Marseille'
HOSTILE = f"""<html lang="en"><head><title>{HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;")}</title></head>
<body><article><h1>{HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;")}</h1>
<p>The city of Nice signed a contract with Palantir for a video surveillance platform in March, and the
council never debated it. Residents learnt about it from a local newspaper weeks later.</p>
<p>Campaigners from La Quadrature du Net asked the CNIL to open an inquiry into the facial recognition
features of the platform, which the city says it does not use.</p></article></body></html>"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the SMTP server received; refuses the addresses in `refuse`."""

    def __init__(self, refuse=()):
        self.messages = []
        self.refuse = set(refuse)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self, n=-1):
        return email.message_from_bytes(self.messages[n][1], policy=policy.default)


@pytest.fixture
def smtp():
    started = []

    def start(refuse=(), port=None):
        box = Mailbox(refuse)
        controller = Controller(box, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        started.append(controller)
        return box, controller.port

    yield start
    for controller in started:
        controller.stop()


def config(port: int, extra: str = "", query: str = "") -> str:
    return f"""# digest test
settings:
  host_delay: 0
sources:
smtp:
  host: 127.0.0.1
  port: {port}
  security: none
  from: "veille <veille@example.org>"
digests:
  - name: weekly
    to: [alice@example.org, bob@example.org]
    query: "{query}"
    timezone: Europe/Paris
{extra}"""


@pytest.fixture(scope="module")
def seeded_archive(tmp_path_factory):
    """The seeds, the fixture site's pages and one article with a hostile title, imported once per module."""
    cli = Cli(tmp_path_factory.mktemp("digest-seeded"))
    pages = tmp_path_factory.mktemp("pages")
    (pages / "hostile.html").write_text(HOSTILE, encoding="utf-8")
    cli("import", str(SEEDS), str(FIXTURES / "site" / "observatoire"), str(FIXTURES / "site" / "watchdog"),
        str(pages / "hostile.html"))
    return cli.archive


@pytest.fixture
def archive_cli(seeded_archive, tmp_path_factory):
    """An archive holding the seeds, the fixture site's pages and one article with a hostile title: each
    test its own copy of the one imported for the module (an import costs seconds, a copy nothing)."""
    cli = Cli(tmp_path_factory.mktemp("digest"))
    shutil.copytree(seeded_archive, cli.archive)
    return cli


def test_a_dry_run_renders_both_parts_to_files_and_marks_nothing(archive_cli, tmp_path):
    cli = archive_cli
    cli.write_config(config(free_port()))
    out = cli("digest", "weekly", "--dry-run", "--out", str(tmp_path / "w.eml"), "--html", str(tmp_path / "w.html"))
    assert "(dry run, nothing sent)" in out.stdout
    message = email.message_from_bytes((tmp_path / "w.eml").read_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert {p.get_content_type() for p in message.iter_parts()} == {"text/plain", "text/html"}
    assert (tmp_path / "w.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads(cli("status", "--json").stdout.splitlines()[-1])["digests"] == []


def test_send_delivers_one_message_with_both_parts_headers_and_the_weeks_stories(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port))
    result = cli("digest", "weekly", "--send")
    assert "sent to 2 recipient(s)" in result.stdout
    (recipients, _), = box.messages
    assert sorted(recipients) == ["alice@example.org", "bob@example.org"]
    message = box.parsed()
    for header in ("Date", "Message-ID", "From", "To", "Subject", "List-Unsubscribe"):
        assert message[header], header
    assert message["List-Unsubscribe"] == "<mailto:veille@example.org?subject=unsubscribe%20weekly>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # the Palantir story once, with its translation folded in, not three times
    assert text.count("There should be no technology for tyrants") + text.count("technologie pour les tyrans") == 1
    assert "also in: FR · 1 copy" in text  # the story's translation and copy, beneath it
    # Issue 21: an imported original links nowhere (a file:// link told recipients a path on the keeper's
    # disk); the story names its origin instead. This assertion said the opposite before.
    assert "file://" not in text and "file://" not in html and "/seeds/" not in text
    assert "an imported file" in text or "(imported copy)" in text
    assert "Most mentioned:" in text and "Palantir" in text
    assert "digest of veille" in text and "unsubscribe" in html
    assert "<script" not in html.lower() and "src=\"http" not in html  # no scripts, no remote images


def test_article_text_is_escaped_in_the_html_part(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port))
    cli("digest", "weekly", "--send")
    html = box.parsed().get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(" in html and "<script>" not in html
    assert "&lt;b&gt;Nice &amp; Marseille" in html
    assert HOSTILE_TITLE in box.parsed().get_body(("plain",)).get_content()  # as text, intact


def test_a_second_send_in_the_same_week_sends_nothing_unless_forced(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port))
    cli("digest", "weekly", "--send")
    again = cli("digest", "weekly", "--send")
    assert "already sent for this period" in again.stdout and len(box.messages) == 1
    cli("digest", "weekly", "--send", "--force")
    assert len(box.messages) == 2
    assert box.parsed(0)["Subject"] == box.parsed(1)["Subject"]  # the same stories again


def test_a_server_that_is_down_loses_nothing_and_the_next_send_covers_the_same_window(archive_cli, smtp):
    cli = archive_cli
    port = free_port()
    cli.write_config(config(port))
    failed = cli("digest", "weekly", "--send", ok=False)
    assert failed.exit_code != 0
    assert failed.stderr.startswith("veille: smtp: cannot send") and len(failed.stderr.strip().splitlines()) == 1
    assert "nothing was marked as sent" in failed.stderr
    assert json.loads(cli("status", "--json").stdout.splitlines()[-1])["digests"] == []
    box, _ = smtp(port=port)
    cli("digest", "weekly", "--send")
    (sent,) = json.loads(cli("status", "--json").stdout.splitlines()[-1])["digests"]
    assert sent["stories"] >= 5 and len(box.messages) == 1


def test_one_refused_recipient_does_not_stop_the_others_and_is_shown(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp(refuse={"bob@example.org"})
    cli.write_config(config(port))
    result = cli("digest", "weekly", "--send")
    assert "refused: bob@example.org (550" in result.stdout
    assert box.messages[0][0] == ["alice@example.org"]
    status = cli("status").stdout
    assert "refused: bob@example.org" in " ".join(status.split())


def test_the_query_chooses_the_stories_and_an_empty_week_sends_nothing_by_default(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port, query="zeppelin"))
    assert "nothing new" in cli("digest", "weekly", "--send").stdout and not box.messages
    cli.write_config(config(port, "    send_empty: true\n", query="zeppelin"))
    cli("digest", "weekly", "--send")
    assert "Nothing new this time" in box.parsed().get_body(("plain",)).get_content()
    cli.write_config(config(port, query="palantir"))
    cli("digest", "weekly", "--send", "--force")
    text = box.parsed().get_body(("plain",)).get_content()
    assert "Palantir" in text and "Nice" not in text.split("Most mentioned:")[0]


@pytest.mark.parametrize("bad, complaint", [
    ("smtp:\n  host: x\n  password: hunter2\n  from: a@b.org\n", 'unknown key "password"'),
    ("smtp:\n  host: x\n  from: not-an-address\n", "is not an email address"),
    ("digests:\n  - name: w\n    to: [a@b.org]\n    schedule: every monday\n", "is not a cron line"),
    ("digests:\n  - name: w\n    to: [a@b.org]\n    timezone: Mars/Olympus\n", "unknown time zone"),
])
def test_digest_and_smtp_settings_are_checked_like_the_rest(tmp_path, bad, complaint):
    cli = Cli(tmp_path)
    cli.write_config("sources:\n" + bad)
    result = cli("status", ok=False)
    assert result.exit_code == 2 and complaint in result.stderr and "feeds.yaml:" in result.stderr


def test_links_are_web_addresses_and_the_unsubscribe_address_is_quoted(archive_cli, tmp_path):
    cli = archive_cli
    page = tmp_path / "canonical.html"
    page.write_text(HOSTILE.replace("<head>", '<head><link rel="canonical" href="javascript:alert(1)">')
                    .replace("Cameras in", "Drones over"), encoding="utf-8")
    cli("import", str(page))
    cli.write_config(config(free_port()).replace("name: weekly", "name: weekly privacy & more"))
    cli("digest", "weekly privacy & more", "--dry-run", "--out", str(tmp_path / "w.eml"))
    message = email.message_from_bytes((tmp_path / "w.eml").read_bytes(), policy=policy.default)
    assert "javascript:" not in message.get_body(("html",)).get_content()
    assert message["List-Unsubscribe"] == "<mailto:veille@example.org?subject=unsubscribe%20weekly%20privacy%20%26%20more>"


def test_veille_run_sends_a_digest_missed_while_it_was_down_and_only_once(archive_cli, smtp):
    from veille.service.scheduler import Service
    from veille.storage.sqlite.store import Archive

    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port, '    schedule: "*/5 * * * *"\n'))  # a send time at most five minutes ago
    with Archive(cli.archive) as archive:
        service = Service(cli.config, archive)
        service.schedule(service.config)
        assert "digest:weekly" in service._take_due(wait=60)  # returns as soon as it is due (at once)
        assert service.scheduler.get_job("digest:weekly") is not None
        service._digest("weekly")
        service._digest("weekly")  # as if the job fired again in the same period
        service.fetcher.close()
    assert len(box.messages) == 1


def test_article_text_never_becomes_a_header_or_a_recipient(archive_cli, smtp, tmp_path):
    cli = archive_cli
    page = tmp_path / "inject.html"
    title = "Drones over Lyon\r\nBcc: mallory@evil.example\r\nX-Injected: yes"
    page.write_text(HOSTILE.replace("<title>", "<title>" + title + " ").replace("Cameras in", "Drones in"),
                    encoding="utf-8")
    cli("import", str(page))
    box, port = smtp()
    cli.write_config(config(port))
    cli("digest", "weekly", "--send", "--force")
    (recipients, raw), = box.messages[-1:]
    assert sorted(recipients) == ["alice@example.org", "bob@example.org"]
    message = box.parsed()
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "mallory" not in "".join(f"{k}: {v}" for k, v in message.items())
    assert "Drones" in message.get_body(("plain",)).get_content()  # the article is in the digest, as text


def _send_in_a_process(cli):
    import subprocess
    import sys
    return subprocess.Popen([sys.executable, "-m", "veille", "--archive", str(cli.archive), "--config", str(cli.config),
                             "digest", "weekly", "--send"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class KillingMailbox(Mailbox):
    """Takes the message, then kills the sender before it hears back: the worst moment to die."""

    victim = None

    async def handle_DATA(self, server, session, envelope):
        import os
        import signal
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        if self.victim is not None:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim = None
        return "250 Message accepted for delivery"


def test_a_sender_killed_after_the_server_took_the_message_does_not_send_it_again(archive_cli):
    cli = archive_cli
    box = KillingMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        cli.write_config(config(controller.port))
        box.victim = sender = _send_in_a_process(cli)
        sender.communicate(timeout=300)
        assert sender.returncode == -9 and len(box.messages) == 1

        again = cli("digest", "weekly", "--send")

        assert "was not completed" in again.stdout and "interrupted after the message went" in again.stdout
        assert box.parsed()["Message-ID"] in again.stdout
        assert len(box.messages) == 1
        cli("digest", "weekly", "--send", "--force")
        assert len(box.messages) == 2
    finally:
        controller.stop()


def test_two_sends_at_once_deliver_one_message(archive_cli, smtp):
    cli = archive_cli
    box, port = smtp()
    cli.write_config(config(port))

    senders = [_send_in_a_process(cli) for _ in range(2)]
    outputs = [sender.communicate(timeout=300)[0] for sender in senders]

    assert [sender.returncode for sender in senders] == [0, 0], outputs
    assert len(box.messages) == 1
    assert sum("sent to 2 recipient(s)" in output for output in outputs) == 1
    # the other saw the first's send, done ("already sent") or under way ("was not completed")
    assert sum("already sent for this period" in output or "was not completed" in output for output in outputs) == 1


def test_a_send_the_server_refused_is_not_recorded_and_the_next_one_covers_the_same_stories(archive_cli, smtp):
    cli = archive_cli
    cli.write_config(config(free_port()))  # nobody listens there
    failed = cli("digest", "weekly", "--send", ok=False)
    assert failed.exit_code != 0 and "nothing was marked as sent" in failed.output

    box, port = smtp()
    cli.write_config(config(port))
    assert "sent to 2 recipient(s)" in cli("digest", "weekly", "--send").stdout
    assert len(box.messages) == 1
