"""Sending one alert to one channel. Each sender raises :class:`DeliveryFailed` on any failure.

The webhook body is the alert as JSON; ``X-Spyne-Signature: sha256=<hex>`` is the HMAC-SHA256
of ``<timestamp>.<body>`` under the secret from the environment, and ``X-Spyne-Timestamp``
carries the timestamp, so a receiver can check both who sent it and that it is not a replay.
Secrets and Slack URLs come only from the environment; a missing one fails the delivery (kept
and retried) with the variable's name, never its value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policies.alerts import Channel, LogFileChannel, SlackChannel, WebhookChannel

SIGNATURE_HEADER = "X-Spyne-Signature"
TIMESTAMP_HEADER = "X-Spyne-Timestamp"


class DeliveryFailed(Exception):
    """One try failed; the message says why (never a secret)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _env(environ: Mapping[str, str], name: str, what: str) -> str:
    value = (environ.get(name) or "").strip()
    if not value:
        raise DeliveryFailed(f"{what}: set the environment variable {name}")
    return value


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise DeliveryFailed("the channel's URL must be http(s)")
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"the receiver answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"cannot reach the receiver: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the receiver answered HTTP {status}")


def _slack_text(alert: Mapping[str, Any]) -> str:
    return (
        f"[{str(alert['severity']).upper()}] {alert['kind']}: {alert['title']} "
        f"(alert {alert['id']}; `spyne alerts ack {alert['id']}`)"
    )


def send(
    channel: Channel,
    alert: Mapping[str, Any],
    *,
    home: Path,
    environ: Mapping[str, str],
    timeout: float,
) -> None:
    """Deliver ``alert`` (a notification's ``to_dict()``) to ``channel`` once."""
    if isinstance(channel, LogFileChannel):
        path = home / channel.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(alert, sort_keys=True, default=str) + "\n")
        except OSError as exc:
            raise DeliveryFailed(f"cannot append to {path}: {exc.strerror}") from None
        return
    if isinstance(channel, WebhookChannel):
        url = channel.url or _env(environ, channel.url_env or "", "the webhook has no URL")
        secret = _env(environ, channel.secret_env, "the webhook has no signing secret")
        body = json.dumps(alert, sort_keys=True, default=str).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
        }
        _post(url, body, headers, timeout)
        return
    if isinstance(channel, SlackChannel):
        url = _env(environ, channel.url_env, "the Slack webhook has no URL")
        body = json.dumps({"text": _slack_text(alert)}).encode()
        _post(url, body, {"Content-Type": "application/json"}, timeout)
        return
    raise AssertionError(channel)  # pragma: no cover - the policy admits these three
