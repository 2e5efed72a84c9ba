from __future__ import annotations

import policies.errors as errors_module
from policies.errors import SpyneError


def _error_types() -> list[type[SpyneError]]:
    return [
        obj
        for obj in vars(errors_module).values()
        if isinstance(obj, type) and issubclass(obj, SpyneError)
    ]


def test_codes_are_stable_and_unique() -> None:
    types = _error_types()
    assert len(types) > 5
    codes = [t.code for t in types]
    assert len(codes) == len(set(codes)), codes
    for t in types:
        assert t.code.islower() and " " not in t.code
        assert 400 <= t.http_status < 600, t


def test_error_shape() -> None:
    error = errors_module.PermissionDenied("promote needs admin", details={"role": "viewer"})
    assert error.to_dict() == {
        "code": "permission_denied",
        "message": "promote needs admin",
        "details": {"role": "viewer"},
    }
    assert str(error) == "[permission_denied] promote needs admin"
    assert errors_module.ValidationFailed("x").details == {}
