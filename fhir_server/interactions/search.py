"""search at type, system and compartment level (http://hl7.org/fhir/R4/search.html).

`GET [type]?…`, `POST [type]/_search`, `GET [base]?_type=…`, `GET Patient/123/Observation`: one
page as a `searchset` Bundle (or, for `_explain=true`, a Parameters with the database plan) with `search.mode` match / include / outcome, `self` and `next` links
(keyset cursors), `_total`, `_summary` (incl. `count`) and `_elements`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ..core import errors as E
from ..core.outcome import operation_outcome
from ..search.registry import load_compartments
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .presentation import shape_resource, summary_mode
from .route import Route

_PRESENTATION = ("_summary", "_elements", "_pretty", "_format")


def strict_handling(req: FhirRequest) -> bool:
    prefer = (req.header("prefer") or "").replace(" ", "")
    return "handling=strict" in prefer


def handle_search(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    types: list[str] | None
    compartment = None
    # `_summary=count` changes the search itself (a count, no page); the other presentation
    # parameters only shape the entries
    query = [
        (k, v) for k, v in req.query if k not in _PRESENTATION or (k, v) == ("_summary", "count")
    ]
    if route.interaction == "search-compartment":
        assert route.resource_type and route.id and route.compartment_type
        types, compartment = _compartment(repo, route)
        path = f"{route.resource_type}/{route.id}/{route.compartment_type}"
    elif route.resource_type:
        types, path = [route.resource_type], route.resource_type
    else:
        listed = [t.strip() for v in req.params("_type") for t in v.split(",") if t.strip()]
        query = [(k, v) for k, v in query if k != "_type"]
        types, path = (listed or None), ""
    result = repo.search(types, query, strict=strict_handling(req), compartment=compartment)
    if getattr(result, "plan", None) is not None:
        return FhirResponse(200, explain_parameters(result.plan))
    return FhirResponse(200, _bundle(repo, req, path, result))


def explain_parameters(plan: list[str]) -> dict[str, Any]:
    """`_explain=true`: the database plan as a Parameters resource (one `plan` line each)."""
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "plan", "valueString": line} for line in plan],
    }


def _compartment(
    repo: FhirRepository, route: Route
) -> tuple[list[str], tuple[str, str, list[str]]]:
    assert route.resource_type and route.id and route.compartment_type
    definitions = load_compartments().get(route.resource_type)
    if definitions is None:
        raise E.FhirError(404, E.error("not-found", f"{route.resource_type} is not a compartment"))
    target = route.compartment_type
    repo.check_type(target)
    params = definitions.get(target)
    if not params:
        raise E.FhirError(
            404,
            E.error(
                "not-found", f"{target} resources are not in the {route.resource_type} compartment"
            ),
        )
    return [target], (route.resource_type, route.id, list(params))


def _link(base: str, path: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    url = f"{base}/{path}" if path else base
    return url + (f"?{query}" if query else "")


def _bundle(repo: FhirRepository, req: FhirRequest, path: str, result: Any) -> dict[str, Any]:
    base = repo.ctx.base_url
    applied = list(result.self_link_params)
    kept = [
        (k, v) for k, v in req.query if k in ("_summary", "_elements") and (k, v) not in applied
    ]
    params = [*applied, *kept]
    if path == "" and req.params("_type"):
        params = [("_type", ",".join(req.params("_type"))), *params]
    links = [{"relation": "self", "url": _link(base, path, params)}]
    if result.next_cursor:
        links.append(
            {
                "relation": "next",
                "url": _link(base, path, [*params, ("_cursor", result.next_cursor)]),
            }
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    if summary_mode(req) == "count":
        return bundle
    located = getattr(result, "full_urls", {})
    entries = [
        _entry(repo, req, r, "match", located.get((r.resource_type, r.id))) for r in result.matches
    ]
    entries += [_entry(repo, req, r, "include") for r in result.includes]
    if result.issues:
        entries.append(
            {"resource": operation_outcome(result.issues), "search": {"mode": "outcome"}}
        )
    bundle["entry"] = entries
    return bundle


def _entry(
    repo: FhirRepository, req: FhirRequest, record: Any, mode: str, located: str | None = None
) -> dict[str, Any]:
    """One entry; `located` (`Container/id#local`) for a contained resource (`_containedType=
    contained`), whose fullUrl is its container's with the local id as fragment."""
    assert record.content is not None
    where = located or f"{record.resource_type}/{record.id}"
    return {
        "fullUrl": f"{repo.ctx.base_url}/{where}",
        "resource": shape_resource(repo, req, record.content),
        "search": {"mode": mode},
    }
