from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fixture_cases import load, params

from policies.errors import ConfigError
from policies.settings import Environment, SpyneSettings, settings_from_mapping

FIXTURE = "settings.yaml"
DEFAULT_HOME: str = load(FIXTURE, "default_home")


@pytest.mark.parametrize("case", params(FIXTURE, "valid"))
def test_valid(case: dict[str, Any]) -> None:
    settings = settings_from_mapping(case["env"], DEFAULT_HOME)
    for name, expected in case["expected"].items():
        actual = getattr(settings, name)
        assert actual == expected, f"{name}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("case", params(FIXTURE, "invalid"))
def test_invalid(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as exc:
        settings_from_mapping(case["env"], DEFAULT_HOME)
    assert exc.value.code == case["error"]
    assert exc.value.details["variable"] == case["variable"]
    assert case["variable"] in exc.value.message
    if "message_contains" in case:
        assert case["message_contains"] in exc.value.message


def test_fixture_covers_every_environment_both_ways() -> None:
    def env_of(case: dict[str, Any]) -> Environment:
        return Environment((case["env"].get("SPYNE_ENV") or "local").strip().lower())

    assert {env_of(c) for c in load(FIXTURE, "valid")} == set(Environment)
    invalid = {
        env_of(c) for c in load(FIXTURE, "invalid") if c["env"].get("SPYNE_ENV") != "staging"
    }
    assert invalid == set(Environment)


def test_expected_fields_exist() -> None:
    known = {f.name for f in dataclasses.fields(SpyneSettings)} | {"is_embedded"}
    for case in load(FIXTURE, "valid"):
        assert set(case["expected"]) <= known, case["id"]


def test_settings_are_frozen() -> None:
    settings = settings_from_mapping({}, DEFAULT_HOME)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = Environment.PROD  # type: ignore[misc]
