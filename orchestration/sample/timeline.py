"""When things happen in the sample: every instant is anchored to ``ANCHOR_DATE``, not today.

The extract ends at the last second of the anchor date, so "overdue" means the same thing
next year. Times are integer seconds since the Unix epoch until they become Arrow arrays.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from orchestration.sample.arrays import IntArray

ANCHOR_DATE = date(2026, 6, 30)
WINDOW_START = date(2026, 1, 1)

# Share of rows created days after their business date.
LATE_RATE = 0.03

DAY = 86_400
_EPOCH = date(1970, 1, 1)
ANCHOR_DAY = (ANCHOR_DATE - _EPOCH).days
WINDOW_START_DAY = (WINDOW_START - _EPOCH).days
WINDOW_DAYS = ANCHOR_DAY - WINDOW_START_DAY + 1
ANCHOR_END_S = (ANCHOR_DAY + 1) * DAY - 1
# Rows are created at least an hour before the extract ends, so a stale copy of a row
# (written at creation) always sorts strictly before its latest copy.
LAST_CREATE_S = ANCHOR_END_S - 3_600
_MASTER_DATA_START_S = int((datetime(2023, 1, 1) - datetime(1970, 1, 1)).total_seconds())
_MASTER_DATA_END_S = WINDOW_START_DAY * DAY - 1


def office_hours(rng: np.random.Generator, size: int) -> IntArray:
    """Seconds into the day at which a person enters a document: 08:00 to 19:00."""
    return rng.integers(8 * 3_600, 19 * 3_600, size)


def late_delay(rng: np.random.Generator, size: int) -> IntArray:
    """Seconds by which a row's creation trails its business date (0 for on-time rows)."""
    late = rng.random(size) < LATE_RATE
    delay = rng.integers(1, 11, size) * DAY + rng.integers(0, DAY, size)
    return np.where(late, delay, 0).astype(np.int64)


def update_delay(rng: np.random.Generator, size: int, low: int, high: int) -> IntArray:
    return rng.integers(low, high, size).astype(np.int64)


def master_data_times(rng: np.random.Generator, size: int) -> tuple[IntArray, IntArray]:
    """Partners and products exist before the sales window; some were edited during it."""
    created = rng.integers(_MASTER_DATA_START_S, _MASTER_DATA_END_S, size).astype(np.int64)
    recently_edited = rng.random(size) < 0.25
    span = (ANCHOR_END_S - created - 60).astype(np.float64)
    recent = created + 60 + (rng.random(size) * span).astype(np.int64)
    soon = created + update_delay(rng, size, 60, 7 * DAY)
    return created, np.where(recently_edited, recent, soon)
