"""The values feeds.yaml writes in words: intervals (30s, 2h, 1d) and sizes (10MB, 512KiB)."""

from __future__ import annotations

import re
from typing import Any

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}


def parse_interval(value: str) -> int:
    """'30s', '15m', '2h', '1d' -> seconds. Raises ValueError otherwise."""
    match = _INTERVAL_RE.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(value)
    return int(match.group(1)) * _INTERVAL_UNITS[match.group(2)]


def _most(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"


def parse_size(value: Any) -> int:
    """'10MB', '512KiB', 1000 -> bytes. Raises ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(value)
    unit = (match.group(2) or "b").lower()
    return int(float(match.group(1)) * _SIZE_UNITS[unit])
