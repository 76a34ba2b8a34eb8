"""Who is calling and what they may do: SMART scopes, principals, the access policy, and the
SMART App Launch 2.x / Backend Services authorisation server (`auth.smart`).

Public entry points: `scopes.parse_scopes` / `scopes.permits`, `principal.Principal`,
`policy.AccessPolicy`, `compartments.PatientCompartment`, `bearer.authenticate`,
`tokens.SigningKeys` / `tokens.TokenService`, `store.add_client` / `store.add_user`,
`smart.build_smart_router`, `cli.clients_app` / `cli.users_app`.
"""
