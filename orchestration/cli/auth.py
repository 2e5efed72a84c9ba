"""`spyne auth`: the first admin, keys for principals, who you are, disabling a key."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    actor,
    allowed,
    emit_json,
    new_app,
    out,
    refusals,
    runtime,
    styled,
    table,
)

app = new_app("API keys and principals.")


def _show_key(role: str, name: str, key: str) -> None:
    out.print(styled(f"created {role} ", (name, "bold"), "; this key is shown once:"))
    out.print(f"  export SPYNE_API_KEY={key}")


@app.command("bootstrap")
def auth_bootstrap(name: Annotated[str, typer.Option("--name")] = "admin") -> None:
    """Create the first admin key of a new install (refused once an admin exists)."""
    from orchestration.identity import bootstrap_admin

    with refusals():
        principal, key = bootstrap_admin(runtime().catalog, name)
    _show_key("admin", principal.name, key)


@app.command("create-key")
def auth_create_key(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst, engineer or admin")],
) -> None:
    """Create a principal with a role and print its key once (admin)."""
    from policies.roles import Operation, Role

    with refusals():
        wanted = Role.parse(role)
        rt, me = allowed(Operation.MANAGE_KEYS, f"principal:{name.strip()}")
        principal, key = rt.catalog.create_principal(name, wanted, created_by=me.name)
    _show_key(principal.role.label, principal.name, key)


@app.command("disable-key")
def auth_disable_key(name: Annotated[str, typer.Argument()]) -> None:
    """Disable a principal's key for good (admin, audited); its history stays."""
    from policies.roles import Operation

    with refusals():
        rt, me = allowed(Operation.MANAGE_KEYS, f"principal:{name}")
        principal = rt.catalog.disable_principal(name, me.name)
    out.print(styled("disabled ", (principal.name, "bold"), f" ({principal.role.label})"))


@app.command("list")
def auth_list(as_json: JsonOpt = False) -> None:
    """Principals, their roles and whether their key works (admin)."""
    from policies.roles import Operation

    with refusals():
        rt = runtime()
        rt.require(actor(rt), Operation.MANAGE_KEYS, "principals")
        principals = rt.catalog.list_principals()
    data = [
        {
            "name": p.name,
            "role": p.role.label,
            "key_prefix": p.key_prefix,
            "created_at": p.created_at.isoformat(),
            "created_by": p.created_by,
            "disabled": p.disabled,
        }
        for p in principals
    ]
    if as_json:
        emit_json(data)
        return
    columns = ["name", "role", "key_prefix", "created_at", "created_by", "disabled"]
    out.print(table("principals", columns, [[d[c] for c in columns] for d in data]))


@app.command("whoami")
def auth_whoami() -> None:
    """The principal and role behind SPYNE_API_KEY."""
    with refusals():
        me = actor(runtime())
    out.print(f"{me.name} ({me.role.label})")
