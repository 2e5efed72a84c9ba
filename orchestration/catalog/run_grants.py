"""Run grants: how a Dagster run proves which person launched it.

A tag on a run is text anyone who can launch a run may type. When ``spyne`` launches a run
for a person, it stores a grant here: a random secret, bound to that run's id and that
person, valid for a limited time. The run carries the secret in its tags; its first step
presents the secret and its run id, and acts as the person only when both match. A grant
copied onto another run is worthless (another run id), and so is a stale one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from orchestration.catalog.audit import now
from orchestration.catalog.control_tables import principals, run_grants
from orchestration.catalog.engine import Database
from orchestration.catalog.snapshots import PrincipalInfo, principal_info
from policies.errors import AuthenticationRequired, ValidationFailed

DEFAULT_TTL = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class RunGrants:
    def __init__(self, db: Database) -> None:
        self._db = db

    def grant(self, principal: PrincipalInfo, run_id: str, ttl: timedelta = DEFAULT_TTL) -> str:
        """A secret that lets run ``run_id`` act as ``principal``; give it only to that run."""
        token = "spyrun_" + secrets.token_urlsafe(32)
        at = now()
        try:
            with self._db.connect(write=True) as c:
                c.execute(
                    sa.insert(run_grants).values(
                        token_hash=_hash(token),
                        run_id=run_id,
                        principal_id=principal.id,
                        created_at=at,
                        expires_at=at + ttl,
                    )
                )
        except sa_exc.IntegrityError as exc:
            raise ValidationFailed(
                f"run {run_id} already has a grant; every run is launched once",
                details={"run_id": run_id},
            ) from exc
        return token

    def resolve(self, token: str, run_id: str) -> PrincipalInfo:
        """The person run ``run_id`` acts for; refused unless the secret, the run and the time match."""
        refused = AuthenticationRequired(
            f"run {run_id} carries no valid launch grant (unknown, for another run, or expired); "
            "launch it again with `spyne`, or from the UI/schedule as the service principal",
            details={"run_id": run_id},
        )
        with self._db.connect(write=False) as c:
            grant = c.execute(
                sa.select(
                    run_grants.c.run_id, run_grants.c.expires_at, run_grants.c.principal_id
                ).where(run_grants.c.token_hash == _hash(token))
            ).first()
            if grant is None or grant.run_id != run_id or grant.expires_at <= now():
                raise refused
            person = c.execute(
                sa.select(principals).where(principals.c.id == grant.principal_id)
            ).first()
            if person is None or person.disabled:
                raise refused
            return principal_info(person)
