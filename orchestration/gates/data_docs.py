"""One Data Docs site for every gate run, whose every link resolves and which reads offline.

Each gate runs in a fresh ephemeral GE context, so the site must not depend on what that
context remembers. The validation results *and* the suites that produced them are kept on
disk under the docs directory: GE's index lists every suite in the expectations store and
deletes the pages of suites it does not find there, so a suite kept only in memory left the
index linking 14 of 15 suites to pages that no longer existed. A build also renders any
result or suite whose page is missing (a previous build that failed, a deleted site), then
rewrites the pages it wrote to load nothing from the network (:mod:`offline_site`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.renderer.site_builder import SiteBuilder

from orchestration.gates.offline_site import make_site_offline

logger = logging.getLogger(__name__)

SITE_NAME = "spyne_gates"


def docs_stores(docs_dir: Path) -> dict[str, dict[str, Any]]:
    """Store configs that keep results and suites as files under ``docs_dir``.

    The suites written here are what ran (a copy, for the docs); the source a person edits
    stays ``expectations/<layer>/<table>.json`` in the repository.
    """
    root = Path(docs_dir).resolve()
    return {
        "validation_results_store": {
            "class_name": "ValidationResultsStore",
            "store_backend": _files(root / "validations"),
        },
        "expectations_store": {
            "class_name": "ExpectationsStore",
            "store_backend": _files(root / "suites"),
        },
    }


def build_data_docs(
    context: AbstractDataContext,
    docs_dir: Path,
    result_id: ValidationResultIdentifier,
    suite_name: str,
) -> str | None:
    """Render this run's pages and the index; a rendering failure never changes the verdict."""
    site_dir = Path(docs_dir).resolve() / "site"
    try:
        builder = SiteBuilder(
            data_context=context,
            store_backend=_files(site_dir),
            site_name=SITE_NAME,
            show_how_to_buttons=False,
        )
        resources: list[Any] = [result_id, ExpectationSuiteIdentifier(name=suite_name)]
        resources += [r for r in _without_page(context, builder) if r not in resources]
        suite_pages = _suite_pages(builder)
        builder.build(resource_identifiers=resources)
        index = site_dir / "index.html"
        written = [index, *(_page(builder, r) for r in resources)]
        # GE's index deletes the page of a suite no longer stored; results of that suite
        # link to it, so their pages are rewritten too (the link becomes text).
        for removed in suite_pages - _suite_pages(builder):
            written += sorted(site_dir.joinpath("validations", *removed).rglob("*.html"))
        make_site_offline(site_dir, written)
    except Exception:
        logger.exception("building Data Docs in %s failed; the gate verdict stands", site_dir)
        return None
    return str(index) if index.is_file() else None


def _without_page(context: AbstractDataContext, builder: SiteBuilder) -> list[Any]:
    """Results and suites the index will list but whose page is not on disk."""
    pages = builder.target_store.store_backends
    missing: list[Any] = [
        key
        for key in context.validation_results_store.list_keys()
        if not pages[ValidationResultIdentifier].has_key(key.to_tuple())
    ]
    missing += [
        key
        for key in context.expectations_store.list_keys()
        if not pages[ExpectationSuiteIdentifier].has_key(key.to_tuple())
    ]
    return missing


def _suite_pages(builder: SiteBuilder) -> set[tuple[str, ...]]:
    pages = builder.target_store.store_backends[ExpectationSuiteIdentifier]
    return {tuple(key) for key in pages.list_keys()}


def _page(builder: SiteBuilder, resource: Any) -> Path:
    url = builder.get_resource_url(resource_identifier=resource, only_if_exists=False) or ""
    return Path(unquote(urlparse(url).path))


def _files(base_directory: Path) -> dict[str, Any]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(base_directory)}
