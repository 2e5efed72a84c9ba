"""A service-account key made up for tests: real key material, an account that does not exist.

Google's client libraries build credentials and a BigQuery client from it without a request
(a token is only fetched when a request is sent), so dbt and Spyne can open their BigQuery
clients offline. Any request made with it would be refused by Google.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@lru_cache(maxsize=1)
def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def fake_service_account_key(project: str) -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "0" * 40,
        "private_key": _private_key_pem(),
        "client_email": f"spyne-test@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
