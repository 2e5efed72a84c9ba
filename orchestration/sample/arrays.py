"""Array helpers shared by every table of the sample: NumPy in, Arrow out.

Every random draw goes through the one generator passed in, in a fixed order, so the
helpers never draw on their own behalf beyond what their names say.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]

# Share of rows that also appear as an older, stale copy in the extract.
DUPLICATE_RATE = 0.02


def seconds_to_timestamps(seconds: IntArray) -> pa.Array:
    return pa.array((seconds * 1_000_000).astype("datetime64[us]"))


def days_to_dates(days: IntArray, missing: BoolArray | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), mask=missing)


def strings(values: StrArray, missing: BoolArray | None = None) -> pa.Array:
    return pa.array(values, type=pa.string(), mask=missing)


def pick(rng: np.random.Generator, words: StrArray, size: int) -> StrArray:
    """One word per row, uniformly."""
    picked: StrArray = words[rng.integers(0, len(words), size)]
    return picked


def concat(*parts: StrArray | str) -> StrArray:
    """Element-wise string concatenation of arrays and constants, left to right."""
    joined: StrArray = np.asarray(parts[0], dtype=np.str_)
    for part in parts[1:]:
        joined = np.char.add(joined, part)
    return joined


def pick_per_row(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """Draw one category per row from a (rows, categories) probability matrix."""
    cumulative = probs.cumsum(axis=1)
    u: FloatArray = rng.random((probs.shape[0], 1))
    picked = (u >= cumulative).sum(axis=1)
    return np.minimum(picked, probs.shape[1] - 1).astype(np.int64)


def round_div(numerator: IntArray, denominator: int) -> IntArray:
    """Half-up integer division for non-negative amounts: the one rounding rule used."""
    return (numerator + denominator // 2) // denominator


def duplicate_rows(rng: np.random.Generator, candidates: BoolArray) -> IntArray:
    """Indices of rows that also get an older copy in the extract."""
    chosen = candidates & (rng.random(candidates.shape[0]) < DUPLICATE_RATE)
    return np.flatnonzero(chosen).astype(np.int64)


def stack(final: pa.Table, stale: pa.Table) -> pa.Table:
    """The extract: every row's latest copy, then the stale copies of a few of them."""
    return pa.concat_tables([final, stale])
