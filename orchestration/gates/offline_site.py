"""Make Great Expectations' Data Docs pages work with no network and no broken links.

GE 1.24's page templates load Bootstrap, jQuery, Font Awesome, Vega and more from public
CDNs, and its logo from an S3 bucket; offline, every page shows unstyled. Its templates
also compute the favicon's relative path one directory short on validation pages. GE
offers no setting for either (custom views and styles are only looked up *after* its own
templates), so the pages are rewritten once they are written: each CDN URL points at the
same file shipped in ``data_docs_static/`` (copied into the site), every ``static/`` link is
re-rooted at the site, links to the web become plain text, and a local link whose target
does not exist is unlinked rather than left to fail.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

STATIC_SOURCE = Path(__file__).resolve().parent / "data_docs_static"
VENDOR_DIR = PurePosixPath("static/vendor")
# Present once every page of a site has been rewritten: later builds rewrite only new pages.
# A site built before (pages that load from CDNs) is rewritten whole on its next build.
SITE_MARKER = VENDOR_DIR / ".every-page-offline"

# Every URL GE 1.24's templates load (render/view/templates/*.j2) -> file in data_docs_static/.
CDN_FILES: Mapping[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap@4.3.1/dist/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": "bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free@6.6.0/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/dist/umd/popper.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/build/vega-embed.min.js",
}  # fmt: skip

# GE's own images, loaded from S3 though the same images are copied into every site.
GE_ASSETS_URL = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GE_ASSET_FILES: Mapping[str, str] = {
    "logo-long.png": "static/images/logo-long.png",
    "full_logo_dark.png": "static/images/logo-long.png",  # dark-mode logo; no local copy
}

_TAG = re.compile(r"<(?:a|link|script|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"', re.IGNORECASE)
_SRI_ATTRIBUTE = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"', re.IGNORECASE)
_CSS_ASSET = re.compile(r"url\((['\"]?)" + re.escape(GE_ASSETS_URL) + r"([^'\")?]+)[^'\")]*\1\)")
_STATIC_PATH = re.compile(r"^(?:\.\.?/)*(static/[^?#]*)")
_NEWSLETTER_FOOTER = re.compile(r"<footer>(?:(?!</footer>).)*newsletter.*?</footer>\s*", re.DOTALL)
_WEB = ("http://", "https://", "//")


def install_vendor_files(site_dir: Path) -> None:
    """Copy the shipped static files into the site (only those missing or changed)."""
    target_root = site_dir.joinpath(*VENDOR_DIR.parts)
    for source in STATIC_SOURCE.rglob("*"):
        if not source.is_file():
            continue
        target = target_root / source.relative_to(STATIC_SOURCE)
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def make_site_offline(site_dir: Path, new_pages: Iterable[Path]) -> None:
    """Rewrite ``new_pages`` (the whole site the first time) and copy in the static files."""
    install_vendor_files(site_dir)
    marker = site_dir.joinpath(*SITE_MARKER.parts)
    everything = not marker.is_file()
    make_pages_offline(site_dir, sorted(site_dir.rglob("*.html")) if everything else new_pages)
    if everything:
        marker.touch()


def make_pages_offline(site_dir: Path, pages: Iterable[Path]) -> None:
    for page in dict.fromkeys(pages):  # each once, in order
        if not page.is_file():
            continue
        html = page.read_text(encoding="utf-8")
        rewritten = rewrite_page(html, page.relative_to(site_dir), _Exists(site_dir, page))
        if rewritten != html:
            page.write_text(rewritten, encoding="utf-8")


def rewrite_page(
    html: str, page: PurePosixPath | Path, exists: Callable[[str], bool] | None = None
) -> str:
    """``html`` of the page at ``page`` (relative to the site root), with local URLs only.

    ``exists`` tells whether a relative URL resolves; without it no link is unlinked.
    """
    root = "../" * (len(Path(page).parts) - 1)

    def local(site_path: str) -> str:
        return f"{root}{site_path}"

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        is_anchor = text[1:2].lower() == "a"
        vendored = False

        def attribute(found: re.Match[str]) -> str:
            nonlocal vendored
            name, url = found.group(1), found.group(2)
            if url in CDN_FILES:
                vendored = True
                return f'{name}="{local(str(VENDOR_DIR / CDN_FILES[url]))}"'
            if url.startswith(GE_ASSETS_URL):
                asset = GE_ASSET_FILES.get(url[len(GE_ASSETS_URL) :].split("?")[0])
                return f'{name}="{local(asset)}"' if asset else found.group(0)
            static = _STATIC_PATH.match(url)
            if static:
                return f'{name}="{local(static.group(1))}"'
            if is_anchor and url.startswith(_WEB):
                return ""  # a link to the web: keep the text, drop the link
            if is_anchor and exists is not None and _is_relative(url) and not exists(url):
                logger.info("Data Docs page %s links to missing %s; unlinked", page, url)
                return ""
            return found.group(0)

        rewritten = _URL_ATTRIBUTE.sub(attribute, text)
        if vendored:
            rewritten = _SRI_ATTRIBUTE.sub("", rewritten)
        return re.sub(r"\s+>$", ">", rewritten) if rewritten != text else text

    def css_asset(match: re.Match[str]) -> str:
        asset = GE_ASSET_FILES.get(match.group(2))
        return f"url('{local(asset)}')" if asset else match.group(0)

    html = _NEWSLETTER_FOOTER.sub("", html)
    html = _TAG.sub(tag, html)
    return _CSS_ASSET.sub(css_asset, html)


class _Exists:
    """Whether a URL relative to one page names an existing file inside the site."""

    def __init__(self, site_dir: Path, page: Path) -> None:
        self._site = site_dir.resolve()
        self._base = page.resolve().parent

    def __call__(self, url: str) -> bool:
        path = url.split("#")[0].split("?")[0]
        if not path:
            return True
        target = Path(os.path.normpath(self._base / path))
        return target.is_file() and target.is_relative_to(self._site)


def _is_relative(url: str) -> bool:
    return bool(url) and not url.startswith(("#", "/", "data:", "mailto:", "javascript:", *_WEB))
