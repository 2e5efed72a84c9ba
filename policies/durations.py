"""Durations as people write them in contracts: ``24h``, ``90m``, ``1h30m``, ``7d`` or ISO 8601.

One parser for every duration a contract holds (dedupe window, freshness lag and threshold), so
they all accept the same spellings and refuse the same mistakes (``24 hours``, ``1.5h``, ``-2h``).
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_COMPACT = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")

SPELLINGS = "a number with a unit: 30s, 15m, 24h, 7d, 2w, combined as 1h30m, or ISO 8601 (PT24H)"


def parse_duration(text: object) -> timedelta | None:
    """The duration, or None when ``text`` is not one (callers name the field in the refusal)."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    match = _COMPACT.match(value.lower()) or _ISO.match(value.upper())
    if not value or match is None or not any(match.groups()):
        return None
    if value.upper().startswith("P") and value.upper().endswith("T"):
        return None
    seconds = sum(
        int(amount) * _UNITS[unit]
        for amount, unit in zip(match.groups(), "wdhms", strict=True)
        if amount is not None
    )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The compact spelling (``1d6h``), which :func:`parse_duration` reads back unchanged."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
