"""A large synthetic copy of Spyne's dbt project, to measure what grows with the number of models.

The copy keeps every real model and adds N silver models over the sample's bronze sources and
N/5 gold models that each read a few of them, every one with its yml (a grain sentence and
not_null/unique tests) and its Great Expectations suite, the way a grown project looks. It is
written to a directory of its own (never into the shipped project): point Spyne at it with
``SPYNE_DBT_PROJECT_DIR`` and ``SPYNE_EXPECTATIONS_DIR``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.environment import DBT_PROJECT_DIR, EXPECTATIONS_DIR

# bronze table -> (key column, a descriptive column) it offers to a synthetic silver model
BRONZE_COLUMNS: dict[str, tuple[str, str]] = {
    "res_partner": ("id", "name"),
    "product_product": ("id", "name"),
    "sale_order": ("id", "state"),
    "sale_order_line": ("id", "name"),
    "account_move": ("id", "move_type"),
    "account_payment": ("id", "state"),
}
SILVER_DIR = Path("models") / "silver" / "synthetic"
GOLD_DIR = Path("models") / "gold" / "synthetic"
GOLD_INPUTS = 3  # silver models read by each gold model
_COPY_IGNORE = shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")


@dataclass(frozen=True)
class SyntheticProject:
    root: Path
    dbt_project_dir: Path
    expectations_dir: Path
    silver_models: int
    gold_models: int

    @property
    def added_models(self) -> int:
        return self.silver_models + self.gold_models

    def environ(self) -> dict[str, str]:
        """The variables that point Spyne's code location at this copy."""
        return {
            "SPYNE_DBT_PROJECT_DIR": str(self.dbt_project_dir),
            "SPYNE_EXPECTATIONS_DIR": str(self.expectations_dir),
        }


def silver_name(i: int) -> str:
    return f"syn_silver_{i:04d}"


def gold_name(j: int) -> str:
    return f"syn_gold_{j:04d}"


def gold_inputs(j: int, silver: int) -> list[str]:
    """The distinct silver models gold j reads, spread over all of them."""
    start = ((j - 1) * 5) % silver
    return [
        silver_name(i + 1) for i in sorted({(start + k * 7) % silver for k in range(GOLD_INPUTS)})
    ]


def _silver_sql(i: int) -> str:
    table = sorted(BRONZE_COLUMNS)[i % len(BRONZE_COLUMNS)]
    key, label = BRONZE_COLUMNS[table]
    return f"""with

{table} as (

    select * from {{{{ source('bronze', '{table}') }}}}

),

latest as (

    {{{{ latest_per_key('{table}') }}}}

),

final as (

    select
        cast({key} as integer) as record_id,
        cast({label} as string) as label,
        cast(write_date as timestamp) as updated_at,
        cast({i} as integer) as variant
    from latest

)

select * from final
"""


def _gold_sql(inputs: list[str]) -> str:
    imports = ",\n\n".join(
        f"{name} as (\n\n    select * from {{{{ ref('{name}') }}}}\n\n)" for name in inputs
    )
    unions = "\n    union all\n".join(
        f"    select record_id, updated_at from {name}" for name in inputs
    )
    return f"""with

{imports},

combined as (

{unions}

),

final as (

    select
        cast(record_id as integer) as record_id,
        cast(max(updated_at) as timestamp) as last_seen_at,
        cast(count(*) as integer) as copies
    from combined
    group by record_id

)

select * from final
"""


def _yml(name: str, grain: str, columns: list[tuple[str, str, list[str]]]) -> str:
    model: dict[str, object] = {
        "name": name,
        "description": f"Synthetic model for load benchmarks. Grain: {grain}.",
        "columns": [
            {"name": column, "description": description, **({"data_tests": tests} if tests else {})}
            for column, description, tests in columns
        ],
    }
    return yaml.safe_dump({"version": 2, "models": [model]}, sort_keys=False)


def _suite(layer: str, name: str, columns: list[tuple[str, str, list[str]]]) -> dict[str, object]:
    """The suite `spyne gates generate` would write for these columns and tests."""
    expectations: list[dict[str, object]] = [
        {
            "kwargs": {"column_set": [c for c, _, _ in columns]},
            "meta": {"generated": "dbt columns"},
            "severity": "critical",
            "type": "expect_table_columns_to_match_set",
        },
        {
            "kwargs": {"min_value": 1},
            "meta": {"generated": "non-empty build"},
            "severity": "critical",
            "type": "expect_table_row_count_to_be_between",
        },
    ]
    for column, _, tests in columns:
        if "unique" in tests:
            expectations.append(
                {
                    "kwargs": {"column": column, "max_value": 1.0, "min_value": 1.0},
                    "meta": {"generated": "dbt test unique"},
                    "severity": "critical",
                    "type": "expect_column_proportion_of_unique_values_to_be_between",
                }
            )
        if "not_null" in tests:
            expectations.append(
                {
                    "kwargs": {"column": column},
                    "meta": {"generated": "dbt test not_null"},
                    "severity": "critical",
                    "type": "expect_column_values_to_not_be_null",
                }
            )
    return {
        "expectations": expectations,
        "meta": {"spyne": {"generated_from": f"model.spyne.{name}"}},
        "name": f"{layer}.{name}",
    }


SILVER_COLUMNS = [
    ("record_id", "Key of the bronze row.", ["unique", "not_null"]),
    ("label", "A descriptive column of the bronze row.", []),
    ("updated_at", "write_date of the latest version.", ["not_null"]),
    ("variant", "Which synthetic model this is.", []),
]
GOLD_COLUMNS = [
    ("record_id", "Key shared by the silver inputs.", ["unique", "not_null"]),
    ("last_seen_at", "Latest write_date over the inputs.", ["not_null"]),
    ("copies", "How many inputs hold the key.", []),
]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_synthetic_project(
    dest: Path,
    silver: int,
    *,
    gold: int | None = None,
    source_project: Path = DBT_PROJECT_DIR,
    source_expectations: Path = EXPECTATIONS_DIR,
) -> SyntheticProject:
    """Copy the project into ``dest`` and add ``silver`` + ``gold`` (default silver // 5) models."""
    gold = silver // 5 if gold is None else gold
    if silver < 1 and gold > 0:
        raise ValueError("gold models need at least one silver model to read")
    project = dest / "dbt_project"
    expectations = dest / "expectations"
    shutil.copytree(source_project, project, ignore=_COPY_IGNORE)
    shutil.copytree(source_expectations, expectations)
    for i in range(1, silver + 1):
        name = silver_name(i)
        _write(project / SILVER_DIR / f"{name}.sql", _silver_sql(i))
        _write(
            project / SILVER_DIR / f"{name}.yml",
            _yml(name, "one row per bronze key", SILVER_COLUMNS),
        )
        _write(
            expectations / "silver" / f"{name}.json",
            json.dumps(_suite("silver", name, SILVER_COLUMNS), indent=2, sort_keys=True) + "\n",
        )
    for j in range(1, gold + 1):
        name = gold_name(j)
        inputs = gold_inputs(j, silver)
        _write(project / GOLD_DIR / f"{name}.sql", _gold_sql(inputs))
        _write(project / GOLD_DIR / f"{name}.yml", _yml(name, "one row per key", GOLD_COLUMNS))
        _write(
            expectations / "gold" / f"{name}.json",
            json.dumps(_suite("gold", name, GOLD_COLUMNS), indent=2, sort_keys=True) + "\n",
        )
    return SyntheticProject(dest, project, expectations, silver, gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", type=Path, help="An empty or missing directory.")
    parser.add_argument("--models", type=int, default=100, help="Synthetic silver models.")
    args = parser.parse_args()
    made = write_synthetic_project(args.dest, args.models)
    for key, value in made.environ().items():
        print(f"export {key}={value}")


if __name__ == "__main__":
    main()
