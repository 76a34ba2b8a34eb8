"""`jiayi clients add` and `jiayi users add` (INTERFACE.md), mounted by `fhir_server/cli.py`.

Spec: SMART App Launch 2.x "Client authentication" (public, `client_secret_basic`, and
`private_key_jwt` with a JWKS or JWKS URL) and SMART Backend Services "Registering a client".
Secrets and passwords are hashed (scrypt) before storage and never echoed or logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..storage.sql import SqlDatabase

clients_app = typer.Typer(help="SMART client registrations.", no_args_is_help=True)
users_app = typer.Typer(help="Sign-in accounts for residents and staff.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="JIAYI_DATABASE_URL",
        help="SQLAlchemy URL (default sqlite:///./var/jiayi.db)",
    ),
]


def _database(database_url: str | None) -> SqlDatabase:
    from ..settings import Settings
    from ..storage.sql import SqlDatabase

    url = database_url or Settings().database_url
    db = SqlDatabase(url)
    db.upgrade()
    return db


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Option("--client-id", help="the OAuth client_id")],
    scope: Annotated[
        str, typer.Option("--scope", help="scopes the client may be granted (space-separated)")
    ],
    secret: Annotated[
        str | None, typer.Option("--secret", help="shared secret: client_secret_basic")
    ] = None,
    jwks_file: Annotated[
        Path | None,
        typer.Option(
            "--jwks-file", exists=True, dir_okay=False, help="public JWKS: private_key_jwt"
        ),
    ] = None,
    jwks_url: Annotated[
        str | None, typer.Option("--jwks-url", help="JWKS URL: private_key_jwt")
    ] = None,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--redirect-uri", help="redirect URI (repeatable); none for back-end clients"),
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option(
            "--organization",
            help="Organization id a back-end client acts for (its tokens carry it; residents' "
            "Consents naming that Organization apply to it)",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a SMART client: public (no credential), --secret, --jwks-file or --jwks-url."""
    from .store import add_client

    if sum(x is not None for x in (secret, jwks_file, jwks_url)) > 1:
        typer.echo("give at most one of --secret, --jwks-file, --jwks-url", err=True)
        raise typer.Exit(2)
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            typer.echo(f"{jwks_file}: not JSON ({exc})", err=True)
            raise typer.Exit(2) from exc
    db = _database(database_url)
    try:
        client = add_client(
            db, client_id, scope=scope, secret=secret, jwks=jwks, jwks_url=jwks_url,
            redirect_uris=tuple(redirect_uri or ()), organization=organization,
        )  # fmt: skip
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    acting = f", for Organization/{client.organization}" if client.organization else ""
    typer.echo(f"client {client.client_id} added ({client.auth_method}{acting})")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option("--username")],
    password: Annotated[
        str, typer.Option("--password", help="at least 8 characters; stored as a scrypt hash")
    ],
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient id (a resident)")
    ] = None,
    practitioner: Annotated[
        str | None, typer.Option("--practitioner", help="Practitioner id (staff)")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role", help="resident, doctor, nurse, institution-admin, commission, auditor, admin"
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a sign-in account: exactly one of --patient or --practitioner."""
    from .store import add_user

    if (patient is None) == (practitioner is None):
        typer.echo("give exactly one of --patient or --practitioner", err=True)
        raise typer.Exit(2)
    db = _database(database_url)
    try:
        user = add_user(
            db, username, password, patient=patient, practitioner=practitioner, role=role
        )
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"user {user.username} added ({user.role}, {user.fhir_user})")


def launch_command(
    client_id: Annotated[str, typer.Option("--client-id", help="the app to launch")],
    username: Annotated[str, typer.Option("--username", help="the EHR user launching it")],
    launch_uri: Annotated[
        str,
        typer.Option("--launch-uri", help="the app's launch URL (origin of a redirect URI)"),
    ],
    patient: Annotated[str | None, typer.Option("--patient", help="Patient id in context")] = None,
    encounter: Annotated[
        str | None, typer.Option("--encounter", help="Encounter id in context")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="JIAYI_BASE_URL", help="public FHIR base (the iss)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Start a SMART EHR launch: prints the URL that opens the app with `iss` and `launch`
    (single use, bound to the app and the user, valid for JIAYI_LAUNCH_LIFETIME seconds)."""
    from ..settings import Settings
    from .smart.config import SmartConfig
    from .smart.errors import OAuthError
    from .smart.launch import create_launch
    from .store import AuthStore

    overrides: dict[str, Any] = {"base_url": base_url} if base_url else {}
    settings = Settings(**overrides)  # the JIAYI_* environment fills the rest
    db = _database(database_url)
    try:
        store = AuthStore(db.engine)
        user = store.user(username)
        if user is None or user.practitioner_id is None:
            typer.echo(f"'{username}' is not a staff user", err=True)
            raise typer.Exit(1)
        url = create_launch(
            store, SmartConfig.from_settings(settings), client_id=client_id,
            username=username, launch_uri=launch_uri, patient=patient, encounter=encounter,
        )  # fmt: skip
    except OAuthError as exc:
        typer.echo(exc.description, err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(url)
