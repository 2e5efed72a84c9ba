"""Spyne's BigQuery client authenticates as dbt's prod profile does, from the same variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.oauth2 import service_account

from orchestration.warehouse.bigquery_auth import google_credentials
from policies.errors import ConfigError
from tests.service_account import fake_service_account_key

KEY = fake_service_account_key("spyne-ci")
EMAIL = KEY["client_email"]


def test_a_key_as_json_or_as_a_file(tmp_path: Path) -> None:
    text = json.dumps(KEY)
    keyfile = tmp_path / "key.json"
    keyfile.write_text(text, encoding="utf-8")
    for environ in (
        {"SPYNE_BQ_KEYFILE_JSON": text},
        {"SPYNE_BQ_KEYFILE": str(keyfile)},
        # the JSON wins over a file, as in the profile
        {"SPYNE_BQ_KEYFILE_JSON": text, "SPYNE_BQ_KEYFILE": str(tmp_path / "absent.json")},
    ):
        credentials = google_credentials("spyne-ci", environ)
        assert isinstance(credentials, service_account.Credentials)
        assert credentials.service_account_email == EMAIL
        assert credentials.project_id == "spyne-ci"


def test_unusable_keys_are_refused_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=str(missing)) as raised:
        google_credentials("spyne-ci", {"SPYNE_BQ_KEYFILE": str(missing)})
    assert raised.value.details["variable"] == "SPYNE_BQ_KEYFILE"
    with pytest.raises(ConfigError, match="SPYNE_BQ_KEYFILE_JSON is not the JSON") as raised:
        google_credentials("spyne-ci", {"SPYNE_BQ_KEYFILE_JSON": "not a key SECRET"})
    assert "SECRET" not in str(raised.value)
    with pytest.raises(ConfigError, match="SPYNE_BQ_KEYFILE_JSON is not usable"):
        google_credentials("spyne-ci", {"SPYNE_BQ_KEYFILE_JSON": json.dumps({"type": "x"})})


def test_without_any_credentials_the_refusal_names_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # no metadata server probe
    with pytest.raises(ConfigError, match="SPYNE_BQ_KEYFILE_JSON") as raised:
        google_credentials("spyne-ci", {})
    assert raised.value.details["project"] == "spyne-ci"
