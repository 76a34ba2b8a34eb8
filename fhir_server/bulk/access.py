"""Access control of Bulk Data endpoints for SMART Backend Services clients.

Spec: Bulk Data Access IG 2.0 "Authorization" and SMART Backend Services: kick-off, status,
download and cancel all need a bearer token; `system/` scopes must grant read (v1 `.read`, v2
`.rs`) of every type exported (`system/*.read` for an export without `_type`).  Jobs belong to the
client that started them: other clients see 404.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from ..auth.bearer import TokenVerifier, authenticate, forbidden
from ..auth.principal import Principal
from ..auth.scopes import permits
from .params import ExportRequest


def smart_authorizer(
    verifier: TokenVerifier,
) -> Callable[[Request, ExportRequest | None], Principal]:
    """An `Authorizer` for `build_bulk_router(authorize=...)` built on the SMART token verifier."""

    def authorize(request: Request, req: ExportRequest | None) -> Principal:
        principal = authenticate(request.headers.get("authorization"), verifier)
        request.state.bulk_principal = principal  # a 403 below is audited with its caller
        if req is not None:
            wanted = list(req.types) or ["*"]
            for rtype in wanted:
                ok = (
                    permits(principal.scopes, "system", "read", rtype)
                    if rtype != "*"
                    else any(
                        s.context == "system" and s.resource_type == "*" and "r" in s.permissions
                        for s in principal.scopes.clinical
                    )
                )
                if not ok:
                    raise forbidden(f"Bulk export of {rtype} needs a system/{rtype}.read scope")
        return principal

    return authorize
