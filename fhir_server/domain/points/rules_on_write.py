"""Health-points business rules riding on generic writes (`WriteRule`, services/context.py).

- `ImmutableLedgerRule` — `PUT/PATCH/DELETE Basic`: a ledger entry is never changed (422) nor
  deleted (405); an unchanged re-send passes (see `rules.refusal`).
"""

from __future__ import annotations

from typing import Any

from ...core import errors as E
from . import rules as R


class ImmutableLedgerRule:
    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Basic" and method in ("PUT", "PATCH", "DELETE")

    def before_write(
        self, tx: Any, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        refused = R.refusal(resource, current)
        if refused is None:
            return resource
        status, text = refused
        code = "not-supported" if status == 405 else "business-rule"
        raise E.FhirError(status, E.error(code, text, "Basic", message_id=f"JY-POINTS-{status}"))

    def after_write(
        self, tx: Any, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


WRITE_RULES = (ImmutableLedgerRule(),)
