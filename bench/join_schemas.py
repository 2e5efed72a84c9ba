"""Generated schemas whose foreign keys are known, with the decoys that fool naive discovery.

Each cluster ``c<k>_`` is a small ERP: customers, segments, employees, products, categories,
tags, orders, order lines (keyed by two columns), line shipments (a two-column foreign key),
product tags (a many-to-many bridge), customer profiles (a 1:1 extension whose unique
``customer_id`` is a sibling key to the same parent), invoices. Decoys: small integers
(priorities, line numbers, quantities, status codes) that overlap every small key, sibling
keys, sparse and nullable keys, ids that overlap other ids, a string reference that names a
parent but has the wrong type. Every table is padded to ``columns`` columns with measures,
labels, dates and status codes. Ids of each cluster live in their own range, as systems do;
small lookup ids (segments, tags) start at 1 everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp

TABLES_PER_CLUSTER = 12
ID_SPAN = 10_000_000


@dataclass(frozen=True, order=True)
class TrueJoin:
    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]


def _pad(columns: list[str], width: int, rows_expr: str = "range") -> list[str]:
    """Filler columns: measures, labels, dates, small status codes (decoys)."""
    kinds = [
        "round(random() * 1000, 2) AS measure_{i}",
        "'label_' || (({r} * 7 + {i}) % 13) AS label_{i}",
        "DATE '2024-01-01' + CAST(({r} + {i}) % 365 AS INTEGER) AS day_{i}",
        "CAST((({r} + {i}) % 5) + 1 AS INTEGER) AS status_{i}",
        "CAST(({r} * 31 + {i}) % 100000 AS BIGINT) AS amount_{i}",
    ]
    out = list(columns)
    i = 0
    while len(out) < width:
        out.append(kinds[i % len(kinds)].format(i=i, r=rows_expr))
        i += 1
    return out


def _create(con: duckdb.DuckDBPyConnection, name: str, columns: list[str], rows: int) -> None:
    select = exp.select(*(sqlglot.parse_one(c, read="duckdb") for c in columns)).from_(
        exp.func("range", exp.Literal.number(rows))
    )
    create = exp.Create(this=exp.to_table(name), kind="TABLE", expression=select)
    con.execute(create.sql("duckdb"))


def cluster(
    con: duckdb.DuckDBPyConnection, k: int, scale: float, width: int = 30
) -> list[TrueJoin]:
    """Write cluster ``k`` (about 12 tables); returns its true joins."""
    p = f"c{k}_"
    base = k * ID_SPAN
    n_cust = max(50, int(2000 * scale))
    n_emp = max(10, int(100 * scale))
    n_prod = max(20, int(500 * scale))
    n_orders = max(100, int(10_000 * scale))
    n_lines_per = 3
    n_lines = n_orders * n_lines_per
    n_inv = max(50, int(n_orders * 0.8))
    t = {
        name: p + name
        for name in [
            "segments",
            "customers",
            "employees",
            "products",
            "categories",
            "tags",
            "orders",
            "order_lines",
            "line_shipments",
            "product_tags",
            "customer_profiles",
            "invoices",
        ]
    }
    _create(con, t["segments"], _pad(["range + 1 AS id", "'seg ' || range AS label"], 6), 8)
    _create(con, t["tags"], _pad(["range + 1 AS id", "'tag ' || range AS name"], 6), 12)
    _create(
        con,
        t["categories"],
        _pad([f"'CAT-{k}-' || range AS code", "'category ' || range AS label"], 8),
        15,
    )
    _create(
        con,
        t["customers"],
        _pad(
            [
                f"range + {base + 1} AS id",
                "'customer ' || range AS name",
                "(range % 8) + 1 AS segment_id",
                "'c' || range || '@example.com' AS email",
            ],
            width,
        ),
        n_cust,
    )
    _create(
        con,
        t["employees"],
        _pad([f"range + {base + 1} AS id", "'employee ' || range AS name"], width),
        n_emp,
    )
    _create(
        con,
        t["products"],
        _pad(
            [
                f"range + {base + 1} AS id",
                f"'SKU-{k}-' || range AS sku",
                f"'CAT-{k}-' || (range % 15) AS category_code",
                "round(random() * 100, 2) AS price",
            ],
            width,
        ),
        n_prod,
    )
    _create(
        con,
        t["orders"],
        _pad(
            [
                f"range + {base + 1} AS id",
                f"(range * 7919) % {n_cust} + {base + 1} AS customer_id",
                f"(range * 104729) % {n_cust} + {base + 1} AS billing_customer_id",
                f"CASE WHEN range % 10 < 7 THEN NULL ELSE range % {n_emp} + {base + 1} END"
                " AS sales_employee_id",
                "(range % 5) + 1 AS priority",
                "'EXT-' || range AS external_customer_ref",
            ],
            width,
        ),
        n_orders,
    )
    _create(
        con,
        t["order_lines"],
        _pad(
            [
                f"range // {n_lines_per} + {base + 1} AS order_id",
                f"range % {n_lines_per} + 1 AS line_no",
                f"(range * 31) % {n_prod} + {base + 1} AS product_id",
                "(range % 10) + 1 AS qty",
            ],
            width,
        ),
        n_lines,
    )
    _create(
        con,
        t["line_shipments"],
        _pad(
            [
                f"(range * 2) // {n_lines_per} + {base + 1} AS order_id",
                f"(range * 2) % {n_lines_per} + 1 AS line_no",
                "'carrier ' || (range % 4) AS carrier",
            ],
            width,
        ),
        n_lines // 2,
    )
    _create(
        con,
        t["product_tags"],
        _pad(
            [
                f"range // 3 + {base + 1} AS product_id",
                "(range * 5) % 12 + 1 AS tag_id",
            ],
            8,
        ),
        n_prod * 3,
    )
    _create(
        con,
        t["customer_profiles"],
        _pad([f"range * 2 + {base + 1} AS customer_id", "random() AS score"], 10),
        n_cust // 2,
    )
    _create(
        con,
        t["invoices"],
        _pad(
            [
                f"range + {base + 1} AS id",
                f"range + {base + 1} AS order_id",
                f"(range * 7919) % {n_cust} + {base + 1} AS customer_id",
            ],
            width,
        ),
        n_inv,
    )

    def j(child: str, cc: Sequence[str], parent: str, pc: Sequence[str]) -> TrueJoin:
        return TrueJoin(t[child], tuple(cc), t[parent], tuple(pc))

    return [
        j("customers", ["segment_id"], "segments", ["id"]),
        j("orders", ["customer_id"], "customers", ["id"]),
        j("orders", ["billing_customer_id"], "customers", ["id"]),
        j("orders", ["sales_employee_id"], "employees", ["id"]),
        j("order_lines", ["order_id"], "orders", ["id"]),
        j("order_lines", ["product_id"], "products", ["id"]),
        j("products", ["category_code"], "categories", ["code"]),
        j("product_tags", ["product_id"], "products", ["id"]),
        j("product_tags", ["tag_id"], "tags", ["id"]),
        j("customer_profiles", ["customer_id"], "customers", ["id"]),
        j("invoices", ["order_id"], "orders", ["id"]),
        j("invoices", ["customer_id"], "customers", ["id"]),
        j("line_shipments", ["order_id"], "orders", ["id"]),
        j("line_shipments", ["order_id", "line_no"], "order_lines", ["order_id", "line_no"]),
    ]


def generate(
    con: duckdb.DuckDBPyConnection,
    tables: int,
    *,
    width: int = 30,
    seed: int = 7,
    large: int = 0,
    large_scale: float = 30.0,
    scale: float = 0.3,
) -> list[TrueJoin]:
    """About ``tables`` tables in clusters; ``large`` clusters get ``large_scale`` (up to ~1M rows)."""
    rng = random.Random(seed)
    clusters = max(1, round(tables / TABLES_PER_CLUSTER))
    big = set(rng.sample(range(clusters), min(large, clusters)))
    truth: list[TrueJoin] = []
    con.execute(exp.select(exp.func("setseed", exp.Literal.number(rng.random() / 2))).sql("duckdb"))
    for k in range(clusters):
        truth += cluster(con, k + 1, large_scale if k in big else scale, width)
    return truth
