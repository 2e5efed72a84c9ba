"""Principals: people and services, each with one role and one API key stored hashed."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome, principals
from orchestration.catalog.engine import PG_LOCK_ADMINS, Database
from orchestration.catalog.snapshots import PrincipalInfo, principal_info
from policies.errors import AuthenticationRequired, InvalidTransition, NotFound, ValidationFailed
from policies.roles import Role

API_KEY_PREFIX = "spy_"
KEY_PREFIX_LENGTH = 8
MAX_NAME_LENGTH = 200


def hash_api_key(api_key: str) -> str:
    """SHA-256 of the key, hex.

    Keys are 32 random bytes, so a fast unsalted hash is as safe as a slow KDF here
    (there is nothing to brute-force), and it lets the hash be a unique, indexed
    column: authentication is one lookup, not a scan verifying every salted hash.
    """
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def checked_name(name: str) -> str:
    """A principal's name as stored: trimmed, printable, at most 200 characters."""
    clean = name.strip()
    if not clean:
        raise ValidationFailed("a principal needs a name", details={"field": "name"})
    if len(clean) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"a principal's name has at most {MAX_NAME_LENGTH} characters, got {len(clean)}",
            details={"field": "name", "length": len(clean)},
        )
    if any(unicodedata.category(ch).startswith("C") for ch in clean):
        raise ValidationFailed(
            "a principal's name cannot contain control or invisible characters",
            details={"field": "name"},
        )
    return clean


class Principals:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, role: Role, created_by: str) -> tuple[PrincipalInfo, str]:
        """Create a principal (audited) and return its API key; the key is shown this once only."""
        name = checked_name(name)
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:KEY_PREFIX_LENGTH]
        try:
            with self._db.connect(write=True) as c:
                exists = c.scalar(sa.select(principals.c.id).where(principals.c.name == name))
                if exists is not None:
                    raise _exists(name)
                inserted = c.execute(
                    sa.insert(principals)
                    .values(
                        name=name,
                        role=role.label,
                        api_key_hash=hash_api_key(key),
                        key_prefix=prefix,
                        created_at=now(),
                        created_by=created_by,
                        disabled=False,
                    )
                    .returning(principals.c.id)
                )
                info = _by_id(c, int(inserted.scalar_one()))
                append(
                    self._db,
                    c,
                    created_by,
                    "create_principal",
                    f"principal:{name}",
                    AuditOutcome.ALLOWED,
                    {"role": role.label, "key_prefix": prefix},
                )
        except sa_exc.IntegrityError as exc:
            raise _exists(name) from exc
        return info, key

    def authenticate(self, api_key: str | None) -> PrincipalInfo:
        """The principal owning ``api_key``; the refusal never says which keys exist."""
        key = (api_key or "").strip()
        if not key:
            raise AuthenticationRequired(
                "no API key was given: set SPYNE_API_KEY to your key (an admin can create one)",
                details={"variable": "SPYNE_API_KEY"},
            )
        with self._db.connect(write=False) as c:
            row = c.execute(
                sa.select(principals).where(principals.c.api_key_hash == hash_api_key(key))
            ).first()
            if row is None or row.disabled:
                raise AuthenticationRequired(
                    "the API key is not valid (unknown or disabled); ask an admin for a new key"
                )
            return principal_info(row)

    def disable(self, name: str, actor: str) -> PrincipalInfo:
        """Disable a principal's key for good (audited); rows stay so the audit keeps its actors.

        The last enabled admin cannot be disabled: nobody could manage keys afterwards. Disables
        queue for one lock, so two admins disabling each other at once cannot both count the
        other as still enabled (SQLite writers already queue).
        """
        with self._db.connect(write=True) as c:
            self._db.pg_lock(c, PG_LOCK_ADMINS)
            row = c.execute(
                sa.select(principals).where(principals.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise NotFound(
                    f"no principal named {name!r}; `spyne auth list` shows them",
                    details={"name": name},
                )
            if row.disabled:
                return principal_info(row)
            if row.role == Role.ADMIN.label:
                admins = c.scalar(
                    sa.select(sa.func.count())
                    .select_from(principals)
                    .where(principals.c.role == Role.ADMIN.label, principals.c.disabled.is_(False))
                )
                if int(admins or 0) <= 1:
                    raise InvalidTransition(
                        f"{name} is the last enabled admin; create another admin first",
                        details={"name": name},
                    )
            c.execute(sa.update(principals).where(principals.c.id == row.id).values(disabled=True))
            append(
                self._db,
                c,
                actor,
                "disable_principal",
                f"principal:{name}",
                AuditOutcome.ALLOWED,
                {"role": row.role, "key_prefix": row.key_prefix},
            )
            return _by_id(c, row.id)

    def has_admin(self) -> bool:
        with self._db.connect(write=False) as c:
            found = c.scalar(
                sa.select(principals.c.id)
                .where(principals.c.role == Role.ADMIN.label, principals.c.disabled.is_(False))
                .limit(1)
            )
            return found is not None

    def by_id(self, principal_id: int) -> PrincipalInfo:
        with self._db.connect(write=False) as c:
            return _by_id(c, principal_id)

    def all(self) -> list[PrincipalInfo]:
        with self._db.connect(write=False) as c:
            rows = c.execute(sa.select(principals).order_by(principals.c.name)).all()
            return [principal_info(r) for r in rows]


def _by_id(conn: sa.Connection, principal_id: int) -> PrincipalInfo:
    row = conn.execute(sa.select(principals).where(principals.c.id == principal_id)).first()
    if row is None:
        raise NotFound(f"no principal with id {principal_id}", details={"id": principal_id})
    return principal_info(row)


def _exists(name: str) -> ValidationFailed:
    return ValidationFailed(
        f"a principal named {name!r} already exists; pick another name", details={"name": name}
    )
