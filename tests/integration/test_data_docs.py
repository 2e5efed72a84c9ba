"""The gates' Data Docs site on real GE renders: every link resolves, nothing loads from the web."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from great_expectations.core.expectation_suite import ExpectationSuite
from test_gates import CLEAN_ROWS, DIRTY_ROWS, NODE, TESTS, make_table

from orchestration.gates.offline_site import CDN_FILES, STATIC_SOURCE, rewrite_page
from orchestration.gates.runner import run_gate
from orchestration.gates.suites import MIN_ROWS_PARAMETER, suite_from_dbt_node

SCHEMA = "silver__shadow"
PARAMETERS = {MIN_ROWS_PARAMETER: 0}
_ROW_LINK = re.compile(r"""_table_row_link_path['"]?\s*:\s*['"]([^'"]+)['"]""")
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)""")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, name, value))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def problems_in(page: Path, site: Path, stylesheets: set[Path]) -> Iterator[str]:
    """Every way ``page`` could fail offline: a URL on the web, or a local target not there.

    The stylesheets it loads are added to ``stylesheets``, to be checked in turn.
    """
    html = page.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(html)
    urls = [(f"<{tag} {attr}>", url) for tag, attr, url in parser.links]
    urls += [("row link", url) for url in _ROW_LINK.findall(html)]
    urls += [("inline css", url) for style in parser.styles for url in _CSS_URL.findall(style)]
    for where, url in urls:
        if url.startswith("#") or url.startswith("data:"):
            continue
        if url.startswith(("http:", "https:", "//")):
            yield f"{page.relative_to(site)}: {where} on the web: {url}"
            continue
        target = _target(page, url)
        if not target.is_file() or not target.is_relative_to(site.resolve()):
            yield f"{page.relative_to(site)}: {where} -> {url} does not exist"
        elif target.suffix == ".css":
            stylesheets.add(target)


def site_problems(site: Path) -> list[str]:
    stylesheets: set[Path] = set()
    found = [
        p for page in sorted(site.rglob("*.html")) for p in problems_in(page, site, stylesheets)
    ]
    for css in sorted(stylesheets):
        for url in _CSS_URL.findall(css.read_text(encoding="utf-8")):
            if url.startswith("data:"):
                continue
            if url.startswith(("http:", "https:", "//")) or not _target(css, url).is_file():
                found.append(f"{css.relative_to(site.resolve())}: url({url}) does not resolve")
    return found


def _target(referrer: Path, url: str) -> Path:
    return (referrer.parent / url.split("#")[0].split("?")[0]).resolve()


def suite_for(table: str) -> ExpectationSuite:
    node = {
        **NODE,
        "name": table,
        "unique_id": f"model.spyne.{table}",
        "fqn": ["spyne", "silver", table],
    }
    tests = [{**t, "attached_node": node["unique_id"]} for t in TESTS]
    return suite_from_dbt_node(node, tests)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    for table, rows in (("orders__v1", CLEAN_ROWS), ("orders__v2", DIRTY_ROWS)):
        make_table(path, table, rows)
    for table in ("customers__v1", "invoices__v1", "payments__v1"):
        make_table(path, table, CLEAN_ROWS)
    return path


def gate(warehouse: Path, table: str, suite: ExpectationSuite, docs: Path) -> None:
    result = run_gate(warehouse, SCHEMA, table, suite, parameters=PARAMETERS, data_docs_dir=docs)
    assert result.data_docs_index == str(docs / "site" / "index.html"), result.message


def test_every_link_of_every_page_resolves_offline(warehouse: Path, tmp_path: Path) -> None:
    docs = tmp_path / "gx"
    plain = ExpectationSuite(name="plain", expectations=suite_for("orders").expectations)
    nested = ExpectationSuite(name="silver.joins.orders", expectations=plain.expectations)
    runs = [
        ("orders__v1", suite_for("orders")),
        ("orders__v2", suite_for("orders")),
        ("customers__v1", suite_for("customers")),
        ("invoices__v1", suite_for("invoices")),
        ("payments__v1", suite_for("payments")),
        ("orders__v1", plain),  # GE computes relative paths from the dots in a suite name
        ("orders__v1", nested),
    ]
    for table, suite in runs:
        gate(warehouse, table, suite, docs)

    site = docs / "site"
    assert site_problems(site) == []
    index = (site / "index.html").read_text(encoding="utf-8")
    for name in ("silver/orders", "silver/customers", "silver/invoices", "silver/payments"):
        assert f'href="expectations/{name}.html"' in index, name  # every suite, not the last
    assert 'href="expectations/plain.html"' in index
    assert 'href="expectations/silver/joins/orders.html"' in index
    rows = _ROW_LINK.findall(index)  # each run and each suite is a clickable row
    assert sum(r.startswith("validations/") for r in rows) == len(runs)
    assert sum(r.startswith("expectations/") for r in rows) == 6
    pages = list(site.rglob("*.html"))
    assert len(pages) == 1 + len(runs) + 6  # index, one per run, one per suite
    assert all("static/vendor/jquery@3.7.1/dist/jquery.min.js" in p.read_text() for p in pages)


def test_pages_missing_from_the_site_are_rendered_again(warehouse: Path, tmp_path: Path) -> None:
    docs = tmp_path / "gx"
    gate(warehouse, "orders__v1", suite_for("orders"), docs)
    gate(warehouse, "customers__v1", suite_for("customers"), docs)
    shutil.rmtree(docs / "site")

    gate(warehouse, "invoices__v1", suite_for("invoices"), docs)

    site = docs / "site"
    assert site_problems(site) == []
    assert len(list((site / "validations").rglob("*.html"))) == 3
    assert len(list((site / "expectations").rglob("*.html"))) == 3


def test_a_link_to_a_page_that_cannot_exist_is_unlinked(warehouse: Path, tmp_path: Path) -> None:
    """A result whose suite is gone (an install from before suites were kept, say)."""
    docs = tmp_path / "gx"
    gate(warehouse, "orders__v1", suite_for("orders"), docs)
    (docs / "suites" / "silver" / "orders.json").unlink()

    gate(warehouse, "customers__v1", suite_for("customers"), docs)

    site = docs / "site"
    assert site_problems(site) == []
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "expectations/silver/orders.html" not in index
    assert "silver.orders" in index  # still listed, as text
    rows = _ROW_LINK.findall(index)
    assert sum(r.startswith("validations/") for r in rows) == 2


def test_every_shipped_file_is_used_and_every_cdn_file_is_shipped() -> None:
    shipped = {
        str(p.relative_to(STATIC_SOURCE))
        for p in STATIC_SOURCE.rglob("*")
        if p.is_file() and p.suffix in {".js", ".css"}
    }
    assert set(CDN_FILES.values()) == shipped
    for package in {path.split("/")[0] for path in CDN_FILES.values()}:
        licences = list((STATIC_SOURCE / package).glob("LICENSE*"))
        assert licences, f"{package} has no licence file"


def test_rewrite_page_points_cdn_files_at_the_site() -> None:
    html = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
        'integrity="sha384-x" crossorigin="anonymous"></script>'
        '<link rel="shortcut icon" href="../../../../static/images/favicon.ico" type="image/x-icon"/>'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&dataContextId=2"/>'
        "<style>.b a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') 0 0; }</style>"
        '<a href="https://greatexpectations.io">Great Expectations</a>'
        '<a href="#section-1">x</a><a href="../../index.html">Home</a>'
        '<footer>\n  <p>Stay current with our newsletter <a href="https://x">Subscribe</a></p>\n</footer>\n'
    )
    page = Path("validations/silver/orders/__none__/20240101T000000Z/b.html")
    out = rewrite_page(html, page)
    up = "../../../../../"

    assert f'href="{up}static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"' in out
    assert (
        f'<script src="{up}static/vendor/bootstrap@4.3.1/dist/js/bootstrap.min.js"></script>' in out
    )
    assert f'href="{up}static/images/favicon.ico"' in out
    assert f'<img src="{up}static/images/logo-long.png"/>' in out
    assert f"url('{up}static/images/logo-long.png')" in out
    assert "<a>Great Expectations</a>" in out
    assert '<a href="#section-1">x</a><a href="../../index.html">Home</a>' in out
    assert "newsletter" not in out and "https://" not in out
    assert rewrite_page(out, page) == out  # idempotent
    index = rewrite_page(html, Path("index.html"))
    assert 'href="static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"' in index
    assert 'href="static/images/favicon.ico"' in index


def test_a_site_built_before_is_made_offline_whole(warehouse: Path, tmp_path: Path) -> None:
    """Pages GE rendered before this rewriting existed still load from CDNs: fixed once."""
    docs = tmp_path / "gx"
    gate(warehouse, "orders__v1", suite_for("orders"), docs)
    site = docs / "site"
    (old_page,) = (site / "validations").rglob("*.html")
    html = old_page.read_text(encoding="utf-8")
    local = "../../../../../static/vendor/jquery@3.7.1/dist/jquery.min.js"
    assert local in html
    old_page.write_text(html.replace(local, "https://code.jquery.com/jquery-3.7.1.min.js"))
    next(site.rglob(".every-page-offline")).unlink()
    assert site_problems(site) != []

    gate(warehouse, "customers__v1", suite_for("customers"), docs)

    assert site_problems(site) == []
    assert local in old_page.read_text(encoding="utf-8")
