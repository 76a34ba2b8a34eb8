"""SMART demo accounts: a public PKCE client and three logins (idempotent: existing ones are kept)."""

from __future__ import annotations

from typing import Any

from ..auth.store import AuthStore, add_client, add_user
from .load import DEMO_CLIENT, DEMO_PASSWORD, Account

DEMO_SCOPE = (
    "openid fhirUser launch launch/patient offline_access online_access "
    "patient/*.cruds user/*.cruds"
)
REDIRECTS = ("http://127.0.0.1:9000/callback", "http://localhost:9000/callback")


def register(database: Any, accounts: list[Account]) -> None:
    store = AuthStore(database.engine)
    if store.client(DEMO_CLIENT) is None:
        add_client(database, DEMO_CLIENT, scope=DEMO_SCOPE, redirect_uris=REDIRECTS)
    for username, role, _who, patient, practitioner in accounts:
        if store.user(username) is None:
            add_user(
                database,
                username,
                DEMO_PASSWORD,
                patient=patient,
                practitioner=practitioner,
                role=role,
            )
