"""Contracting rules (pure): terms, channels, fees, the one-active rule, the confirmation window,
and the resources a signing writes (docs/DATA-MODEL.md "Contract").

Seed clauses: 1–3 year agreements (粤(一) 签订1－3年的中长期服务协议); family signing (粤(一)/(五));
sinking doctors sign at the primary institution (粤(二)); fee standards and funding channels —
public-health funds, medical insurance, personal payment (粤(八); 附件1 备注2–3; 附件2 备注);
Q4 to early next year confirmation and renewal, signing all year (粤(十); 国卫办基层发〔2025〕21号 (十)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ...core import errors as E

SD = "https://jiayi.health/fhir/StructureDefinition/"
CS = "https://jiayi.health/fhir/CodeSystem/"
EXT_CARE_TEAM = SD + "contract-care-team"
EXT_FAMILY = SD + "contract-family"
EXT_TERMINATION = SD + "contract-termination-reason"
EXT_CHANNEL = SD + "signing-channel"
EXT_STATUS_REASON = SD + "contract-status-reason"
EXT_FEE = SD + "fee-standard"
SIGNING_CHANNEL = CS + "signing-channel"
TERMINATION_REASON = CS + "contract-termination-reason"
STATUS_REASON = CS + "contract-status-reason"
FUNDING_SOURCE = CS + "funding-source"
INSTITUTION_TYPE = CS + "institution-type"
CHANNELS = ("on-site", "online", "community-event", "home-visit")
TERMINATION_REASONS = (
    "moved-out",
    "unreachable",
    "refused-service",
    "resident-request",
    "death",
    "transfer",
)
FUNDING_ORDER = ("public-health-funds", "medical-insurance", "personal-payment", "other")
#: 附件1 备注2: the family-doctor signing fee inside the 20-yuan public-health package, per resident.
SIGNING_FEE = Decimal("10")


def check_term(term: Any) -> int:
    if not isinstance(term, int) or isinstance(term, bool) or not 1 <= term <= 3:
        raise E.unprocessable(
            [
                E.error(
                    "business-rule",
                    f"term must be 1, 2 or 3 years (粤(一)), not {term!r}",
                    "term",
                    message_id="JY-6001",
                )
            ]
        )
    return term


def check_channel(channel: Any) -> dict[str, Any] | None:
    if channel is None:
        return None
    if (
        not isinstance(channel, dict)
        or channel.get("system") != SIGNING_CHANNEL
        or channel.get("code") not in CHANNELS
    ):
        raise E.unprocessable(
            [
                E.error(
                    "code-invalid",
                    f"channel must be a Coding from {SIGNING_CHANNEL} ({', '.join(CHANNELS)})",
                    "channel",
                    message_id="JY-6002",
                )
            ]
        )
    return {"system": SIGNING_CHANNEL, "code": channel["code"]}


def check_reason(reason: Any) -> dict[str, Any]:
    codings = (reason or {}).get("coding") or [] if isinstance(reason, dict) else []
    hit = next(
        (
            c
            for c in codings
            if c.get("system") == TERMINATION_REASON and c.get("code") in TERMINATION_REASONS
        ),
        None,
    )
    if hit is None:
        raise E.unprocessable(
            [
                E.error(
                    "code-invalid",
                    f"reason must be coded from {TERMINATION_REASON}",
                    "reason",
                    message_id="JY-6003",
                )
            ]
        )
    return {"coding": [{"system": TERMINATION_REASON, "code": hit["code"]}]}


def is_primary(organization: Mapping[str, Any]) -> bool:
    return any(
        c.get("system") == INSTITUTION_TYPE and c.get("code") == "primary"
        for t in organization.get("type") or []
        for c in t.get("coding") or []
    )


def covers(contract: Mapping[str, Any], on: date) -> bool:
    applies = contract.get("applies") or {}
    start, end = applies.get("start", "")[:10], applies.get("end", "")[:10]
    return (not start or start <= on.isoformat()) and (not end or on.isoformat() <= end)


def overlaps(contract: Mapping[str, Any], start: date, end: date) -> bool:
    applies = contract.get("applies") or {}
    c_start, c_end = applies.get("start", "")[:10], applies.get("end", "")[:10]
    return (not c_start or c_start <= end.isoformat()) and (not c_end or start.isoformat() <= c_end)


# -- fees --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeeLine:
    component: str  # package or item title
    source: str  # funding-source code
    unit: Decimal | None  # per person; None = set locally (附件1 备注1, 附件2 备注)
    quantity: int
    basis: str = ""

    @property
    def net(self) -> Decimal | None:
        return None if self.unit is None else self.unit * self.quantity


@dataclass(frozen=True)
class FeeBreakdown:
    lines: tuple[FeeLine, ...] = field(default=())

    def total(self, source: str) -> Decimal:
        return sum(
            (line.net or Decimal(0) for line in self.lines if line.source == source), Decimal(0)
        )

    def sources(self) -> list[str]:
        present = {line.source for line in self.lines}
        return [s for s in FUNDING_ORDER if s in present]


def fee_standards(definition: Mapping[str, Any]) -> list[tuple[str, Decimal | None, str, str]]:
    """(funding source, amount per person or None, component, basis) of a package or item."""
    out = []
    for ext in definition.get("extension") or []:
        if ext.get("url") != EXT_FEE:
            continue
        parts = {p.get("url"): p for p in ext.get("extension") or []}
        money = (parts.get("amount") or {}).get("valueMoney") or {}
        source = next(
            (
                c.get("code")
                for c in ((parts.get("fundingSource") or {}).get("valueCodeableConcept") or {}).get(
                    "coding"
                )
                or []
            ),
            "other",
        )
        amount = Decimal(str(money["value"])) if "value" in money else None
        component = (parts.get("component") or {}).get("valueString") or definition.get("title", "")
        out.append((source, amount, component, (parts.get("basis") or {}).get("valueString", "")))
    return out


def fee_breakdown(members: Sequence[Sequence[Mapping[str, Any]]]) -> FeeBreakdown:
    """Sum the fee standards of each member's packages and items; one line per (definition, source)."""
    counts: dict[tuple[str, str], int] = {}
    seen: dict[tuple[str, str], tuple[str, Decimal | None, str, str]] = {}
    for definitions in members:
        for definition in definitions:
            for source, amount, component, basis in fee_standards(definition):
                key = (definition.get("url", ""), source)
                counts[key] = counts.get(key, 0) + 1
                seen[key] = (source, amount, definition.get("title") or component, basis)
    lines = [FeeLine(seen[k][2], seen[k][0], seen[k][1], counts[k], seen[k][3]) for k in seen]
    return FeeBreakdown(tuple(lines))


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "CNY"}


def fee_terms(fees: FeeBreakdown) -> list[dict[str, Any]]:
    """Contract.term: one per funding source, one valuedItem per package or item (with members)."""
    terms = []
    for source in fees.sources():
        items = []
        for line in fees.lines:
            if line.source != source:
                continue
            item: dict[str, Any] = {
                "entityCodeableConcept": {"text": line.component},
                "quantity": {"value": line.quantity},
            }
            if line.unit is None:
                item["payment"] = "按地方标准（由各地级以上市确定）"
            else:
                item["unitPrice"] = _money(line.unit)
                item["net"] = _money(line.net or Decimal(0))
            items.append(item)
        terms.append(
            {
                "type": {"coding": [{"system": FUNDING_SOURCE, "code": source}]},
                "offer": {"text": f"合计 {fees.total(source)} 元（已定额部分）"},
                "asset": [{"valuedItem": items}],
            }
        )
    return terms


def fee_extensions(fees: FeeBreakdown) -> list[dict[str, Any]]:
    """Contract-level fee-standard extensions: the total of each funding source."""
    return [
        {
            "url": EXT_FEE,
            "extension": [
                {"url": "amount", "valueMoney": _money(fees.total(source))},
                {
                    "url": "fundingSource",
                    "valueCodeableConcept": {
                        "coding": [{"system": FUNDING_SOURCE, "code": source}]
                    },
                },
                {"url": "component", "valueString": "合计"},
            ],
        }
        for source in fees.sources()
    ]


# -- the confirmation window (粤(十): 每年第四季度至次年初) ------------------------------------------------
WINDOW_START = (10, 1)  # 1 October
WINDOW_END = (3, 31)  # "次年初": until the end of the first quarter


def renewal_window(on: date) -> tuple[date, date] | None:
    """The window `on` falls in, or None outside Q4..Q1."""
    if (on.month, on.day) >= WINDOW_START:
        return date(on.year, *WINDOW_START), date(on.year + 1, *WINDOW_END)
    if (on.month, on.day) <= WINDOW_END:
        return date(on.year - 1, *WINDOW_START), date(on.year, *WINDOW_END)
    return None


def due_for_renewal(contract: Mapping[str, Any], window: tuple[date, date]) -> bool:
    end = (contract.get("applies") or {}).get("end", "")[:10]
    return contract.get("status") == "executed" and bool(end) and end <= window[1].isoformat()


# -- audit (签约真实, 粤 三) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    code: str  # no-consent | no-contact | signed-twice | signer-without-role
    detail: str
    patient: str | None = None


def audit(
    contract: Mapping[str, Any],
    *,
    has_consent: bool,
    last_contact: Mapping[str, date | None],
    other_active: Mapping[str, Iterable[str]],
    signer_role_ok: bool,
    on: date,
) -> list[Finding]:
    """Quality findings for one executed contract at `on` (a year without contact = 365 days)."""
    out = []
    if not has_consent:
        out.append(Finding("no-consent", "no Consent recorded for this contract"))
    signed = (contract.get("applies") or {}).get("start", "")[:10]
    for patient, contact in last_contact.items():
        since = contact.isoformat() if contact else signed
        if since and (on - date.fromisoformat(since)).days > 365:
            out.append(Finding("no-contact", f"no contact with {patient} since {since}", patient))
    for patient, others in other_active.items():
        others = list(others)
        if others:
            out.append(Finding("signed-twice", f"{patient} also has {', '.join(others)}", patient))
    if not signer_role_ok:
        out.append(
            Finding(
                "signer-without-role",
                "the signing practitioner has no active role at the contract's institution",
            )
        )
    return out


def add_years_end(start: date, years: int) -> date:
    """The last day (inclusive) of a term of `years` years from `start` (29 Feb → 28 Feb)."""
    from datetime import timedelta

    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)
