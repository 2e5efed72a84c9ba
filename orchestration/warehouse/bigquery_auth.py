"""Who Spyne is on BigQuery: the same credentials dbt's ``prod`` profile uses, from the environment.

One rule for dbt (``dbt_project/profiles.yml``) and for Spyne's own client (the lifecycle and the
gates), so the two can never act as different accounts: ``SPYNE_BQ_KEYFILE_JSON`` (a
service-account key's JSON), else ``SPYNE_BQ_KEYFILE`` (the path of a key file), else
Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud, or the workload
identity the machine runs as). A key is never echoed in a message, even a malformed one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from policies.errors import ConfigError

BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"
KEYFILE_JSON = "SPYNE_BQ_KEYFILE_JSON"
KEYFILE = "SPYNE_BQ_KEYFILE"


def _key_info(raw: str) -> dict[str, Any]:
    try:
        info = json.loads(raw)
    except json.JSONDecodeError:
        info = None
    if not isinstance(info, dict):
        raise ConfigError(
            f"{KEYFILE_JSON} is not the JSON of a service-account key: set it to the key file's "
            f"content, or set {KEYFILE} to the key file's path instead",
            details={"variable": KEYFILE_JSON},
        )
    return info


def google_credentials(project: str, environ: Mapping[str, str] | None = None) -> Any:
    """The credentials for ``project``; a typed refusal naming the variable when there are none."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    env = os.environ if environ is None else environ
    key_json = env.get(KEYFILE_JSON, "").strip()
    keyfile = env.get(KEYFILE, "").strip()
    try:
        if key_json:
            return service_account.Credentials.from_service_account_info(
                _key_info(key_json), scopes=[BIGQUERY_SCOPE]
            )
        if keyfile:
            return service_account.Credentials.from_service_account_file(
                keyfile, scopes=[BIGQUERY_SCOPE]
            )
        credentials, _ = google.auth.default(scopes=[BIGQUERY_SCOPE])
        return credentials
    except OSError as exc:
        raise ConfigError(
            f"cannot read the service-account key file {keyfile} ({KEYFILE}): {exc.strerror}",
            details={"variable": KEYFILE, "path": keyfile},
        ) from None
    except (ValueError, KeyError) as exc:
        variable = KEYFILE_JSON if key_json else KEYFILE
        raise ConfigError(
            f"the service-account key in {variable} is not usable: {exc}",
            details={"variable": variable},
        ) from None
    except DefaultCredentialsError as exc:
        raise ConfigError(
            f"no Google credentials for the BigQuery project {project}: {exc}. Set "
            f"{KEYFILE_JSON} (a service-account key's JSON) or {KEYFILE} (its path), or "
            "GOOGLE_APPLICATION_CREDENTIALS, or run on a workload identity that has them",
            details={"variable": KEYFILE_JSON, "project": project},
        ) from None
