"""Catalog schema revisions, applied in order by Catalog.upgrade()."""
