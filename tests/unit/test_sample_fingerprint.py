"""The sample source is a pure function of (lines, seed): these fingerprints pin it.

A change here means every pinned benchmark, reconciliation and demo number moves with it,
so it must be deliberate: re-pin only when the data is meant to change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.sample import generate
from tests.sample_content import fingerprint

PARTNER = "13ce34f5ce0ed1e1acb7af507c88ff55"
PRODUCT = "73442d16bc9ec2e2b7012dfd8157711e"
ORDER = "b947b27aee078547ea76e5b53e277dd9"
LINE = "54df297a9a7fca6e886e9ff55efc246b"
MOVE = "7a8207b732c8a4aeabe7d0ca5f85766c"
PAYMENT = "f80893f40a6170e7e04bc8c5c0d582cd"

PINNED = {
    (600, 3): {
        "res_partner": (155, PARTNER, "721e201a59ede1b830a8ef3c6586f436"),
        "product_product": (37, PRODUCT, "3086c3b45fb7cc8009f60772ddf9955a"),
        "sale_order": (203, ORDER, "d42bb0f94b98ed6da83faa5ca36d71d0"),
        "sale_order_line": (611, LINE, "4f8cefcd33dea6a476def0bff388d998"),
        "account_move": (150, MOVE, "05c4a853ac3bf216363c7a83e1b8e5eb"),
        "account_payment": (105, PAYMENT, "f5d089fcd134ff11db2fc477e0ed55a2"),
    },
    (5000, 42): {
        "res_partner": (454, PARTNER, "9478259c966f341581a3bcf4c1f47ee4"),
        "product_product": (111, PRODUCT, "c67e934cc9d0d68983427ae56da43027"),
        "sale_order": (1691, ORDER, "9d4199661cecee6048a774718d4dbb2c"),
        "sale_order_line": (5098, LINE, "0acf035a8a1fe7e8566d13d00a368beb"),
        "account_move": (1205, MOVE, "3385109457b9a77d2890d80f320d9cd2"),
        "account_payment": (869, PAYMENT, "e1978ac198fd4d1bf679ef8bd632b5b5"),
    },
}


@pytest.mark.parametrize(("lines", "seed"), sorted(PINNED))
def test_content_is_pinned_for_a_seed_and_size(tmp_path: Path, lines: int, seed: int) -> None:
    summary = generate(tmp_path / "erp.duckdb", lines=lines, seed=seed)
    found = {table: tuple(f) for table, f in fingerprint(summary.path).items()}
    assert found == PINNED[(lines, seed)]
    assert summary.row_counts == {table: f[0] for table, f in PINNED[(lines, seed)].items()}
