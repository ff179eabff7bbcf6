"""Sections of `settings:` read by functions of their own: captures, and the servers an
installation may use (the archive's address). Each takes the validator, for its messages."""

from __future__ import annotations

import re
from typing import Any

from veille.config.values import parse_size

CAPTURE_KINDS = ("warc", "none")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def capture_settings(self, fields: dict, values: dict[str, Any]) -> None:
    """settings.capture and settings.warc_max_size, into `values`."""
    if "capture" in fields:  # (`capture: no` and `off` are YAML's False)
        value = "none" if (value := self.scalar(fields["capture"], "settings.capture")) is False else value
        if value not in CAPTURE_KINDS:
            raise self.fail(fields["capture"], 'settings.capture: write "warc" (keep every response, the '
                            'default) or "none" (keep only the clean text)')
        values["capture"] = value
    if "warc_max_size" in fields:
        try:
            values["warc_max_size"] = parse_size(self.scalar(fields["warc_max_size"], "settings.warc_max_size"))
            if values["warc_max_size"] < 1000**2:
                raise ValueError("too small")
        except ValueError:
            raise self.fail(fields["warc_max_size"], "settings.warc_max_size: write a size of at least 1MB, "
                            "like 1GB or 500MiB") from None

def server_settings(self, fields: dict, values: dict[str, Any]) -> None:
    """settings.archive: a folder (relative to feeds.yaml's folder), sqlite:///path or postgresql://...;
    settings.broker: amqp://..."""
    broker_setting(self, fields, values)
    if "archive" not in fields:
        return
    value = self.scalar(fields["archive"], "settings.archive")
    if not isinstance(value, str) or not value.strip():
        raise self.fail(fields["archive"], "settings.archive: write a folder, sqlite:///path/to/archive or "
                        "postgresql://user@host:port/database")
    value = value.strip()
    found = _SCHEME.match(value)
    if found is None:
        value = str(self.path.parent / value)
    elif not re.fullmatch(r"sqlite|postgres(ql)?(\+[a-z0-9]+)?", found.group(1), re.I):
        raise self.fail(fields["archive"], f"settings.archive: {found.group(1)}:// is not an archive veille knows; "
                        "write a folder, sqlite:///path/to/archive or postgresql://user@host:port/database")
    values["archive"] = value


def broker_setting(self, fields: dict, values: dict[str, Any]) -> None:
    """settings.broker: the amqp:// URL of the RabbitMQ broker of `veille worker` and `--via-queue`."""
    if "broker" not in fields:
        return
    value = self.scalar(fields["broker"], "settings.broker")
    found = _SCHEME.match(value.strip()) if isinstance(value, str) else None
    if found is None or found.group(1).lower() not in ("amqp", "amqps", "pyamqp"):
        raise self.fail(fields["broker"], "settings.broker: write the broker's address, like "
                        "amqp://veille:PASSWORD@rabbit.example.org:5672/veille")
    values["broker"] = value.strip()
