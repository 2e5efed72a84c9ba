"""A fake BigQuery client for tests without a cloud (see :mod:`tests.bigquery_fake.client`)."""

from tests.bigquery_fake.client import FakeBigQueryClient, Request

__all__ = ["FakeBigQueryClient", "Request"]
