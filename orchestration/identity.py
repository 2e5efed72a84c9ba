"""Who is calling: API keys (stored hashed) mapped to a principal with a role, and who acts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.catalog import Catalog, PrincipalInfo
from policies.errors import PermissionDenied
from policies.roles import Role

API_KEY_ENV = "SPYNE_API_KEY"
LOCAL_ADMIN = "local-admin"


@dataclass(frozen=True)
class Actor:
    """The principal whose role is checked, and (for runs) the person or schedule that started it.

    A person at the CLI acts as themself (``launched_by`` None). A run launched by ``spyne``
    acts as the person who launched it; a run from a schedule or the UI acts as the code
    location's service principal, ``launched_by`` naming the schedule or the UI. The audit
    records both.
    """

    principal: PrincipalInfo
    launched_by: str | None = None

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> Role:
        return self.principal.role

    def describe(self) -> str:
        if self.launched_by and self.launched_by != self.name:
            return f"{self.name} (launched by {self.launched_by})"
        return self.name


def current_principal(catalog: Catalog, api_key: str | None = None) -> PrincipalInfo:
    """The caller named by SPYNE_API_KEY; AuthenticationRequired when absent or unknown."""
    return catalog.authenticate(api_key if api_key is not None else os.environ.get(API_KEY_ENV))


def current_actor(catalog: Catalog, api_key: str | None = None) -> Actor:
    """A person at the CLI acts as themself."""
    return Actor(current_principal(catalog, api_key))


def bootstrap_admin(catalog: Catalog, name: str) -> tuple[PrincipalInfo, str]:
    """Create the first admin of a new install (audited); refused once any admin exists."""
    if catalog.has_admin():
        raise PermissionDenied(
            "an admin already exists; ask an admin to run `spyne auth create-key NAME --role admin`",
            details={"operation": "bootstrap", "required_role": "admin"},
        )
    return catalog.create_principal(name, Role.ADMIN, created_by="bootstrap")


def local_admin_key_file(home: Path) -> Path:
    return home / "admin.key"


def demo_admin(catalog: Catalog, home: Path) -> tuple[PrincipalInfo, str | None]:
    """The admin the local demo acts as: SPYNE_API_KEY, else the key file a bootstrap left.

    On a brand-new local install the demo bootstraps the first admin and stores its key in
    $SPYNE_HOME/admin.key (mode 0600), the way a database keeps a local credentials file.
    Returns the principal and, when it was just created, the new key.
    """
    if os.environ.get(API_KEY_ENV):
        return current_principal(catalog), None
    key_file = local_admin_key_file(home)
    if key_file.exists():
        return current_principal(catalog, key_file.read_text().strip()), None
    principal, key = bootstrap_admin(catalog, LOCAL_ADMIN)
    fd = os.open(key_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return principal, key
