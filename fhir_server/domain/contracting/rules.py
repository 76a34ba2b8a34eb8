"""Contracting rules (pure): terms, channels, fees, the one-active rule, the confirmation window,
and the resources a signing writes (docs/DATA-MODEL.md "Contract").

Seed clauses: 1–3 year agreements (粤(一) 签订1－3年的中长期服务协议); family signing (粤(一)/(五));
sinking doctors sign at the primary institution (粤(二)); fee standards and funding channels —
public-health funds, medical insurance, personal payment (粤(八); 附件1 备注2–3; 附件2 备注);
Q4 to early next year confirmation and renewal, signing all year (粤(十); 国卫办基层发〔2025〕21号 (十)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
EXT_PACKAGE = SD + "contract-package"
EXT_SINKING_FROM = SD + "sinking-from"
CONTRACT_PROFILE = SD + "jiayi-contract"
CONSENT_PROFILE = SD + "jiayi-informed-consent"
CONFIRMATION_PROFILE = SD + "jiayi-contract-confirmation"
ORDER_PROFILE = SD + "jiayi-service-item-order"
AUDIT_PROFILE = SD + "jiayi-contract-audit-finding"
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
#: A contract is in force while its period covers the date and it is executed, or renewed (its
#: renewal signed, the current period still running).
ACTIVE_STATUSES = ("executed", "renewed")


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


def is_active(contract: Mapping[str, Any], on: date) -> bool:
    """In force at `on`: executed or renewed, and its period covers the date."""
    return contract.get("status") in ACTIVE_STATUSES and covers(contract, on)


def covers(contract: Mapping[str, Any], on: date) -> bool:
    applies = contract.get("applies") or {}
    start, end = applies.get("start", "")[:10], applies.get("end", "")[:10]
    return (not start or start <= on.isoformat()) and (not end or on.isoformat() <= end)


def overlaps(contract: Mapping[str, Any], start: date, end: date) -> bool:
    applies = contract.get("applies") or {}
    c_start, c_end = applies.get("start", "")[:10], applies.get("end", "")[:10]
    return (not c_start or c_start <= end.isoformat()) and (not c_end or start.isoformat() <= c_end)


# -- fees --------------------------------------------------------------------------------------------
PERSON_YEAR = "人·年"


@dataclass(frozen=True)
class Standard:
    """One fee-standard extension of a package or item: per resident and year (附件1 备注2)."""

    source: str  # funding-source code
    amount: Decimal | None  # None = set locally (附件1 备注1, 附件2 备注)
    component: str
    basis: str = ""
    parts: tuple[tuple[str, Decimal], ...] = ()  # what the amount includes (包含)


@dataclass(frozen=True)
class Charge:
    """A package or item one member has, for `years` contract years."""

    member: str  # Patient/<id>
    definition: str  # PlanDefinition/<id> | ActivityDefinition/<id>
    title: str
    years: int
    standards: tuple[Standard, ...]


def fee_standards(definition: Mapping[str, Any]) -> list[Standard]:
    """The fee standards of a package or item (extension fee-standard)."""
    out = []
    for ext in definition.get("extension") or []:
        if ext.get("url") != EXT_FEE:
            continue
        subs = ext.get("extension") or []
        parts = {p.get("url"): p for p in subs}
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
        included = []
        for part in (p for p in subs if p.get("url") == "part"):
            inner = {x.get("url"): x for x in part.get("extension") or []}
            value = ((inner.get("amount") or {}).get("valueMoney") or {}).get("value")
            label = (inner.get("component") or {}).get("valueString", "")
            if value is not None:
                included.append((label, Decimal(str(value))))
        out.append(
            Standard(
                source,
                Decimal(str(money["value"])) if "value" in money else None,
                (parts.get("component") or {}).get("valueString") or definition.get("title", ""),
                (parts.get("basis") or {}).get("valueString", ""),
                tuple(included),
            )
        )
    return out


def charge(member: str, definition: Mapping[str, Any], years: int) -> Charge:
    return Charge(
        member,
        f"{definition.get('resourceType')}/{definition.get('id')}",
        definition.get("title") or definition.get("id", ""),
        years,
        tuple(fee_standards(definition)),
    )


@dataclass(frozen=True)
class FeeBreakdown:
    charges: tuple[Charge, ...] = field(default=())

    def sources(self) -> list[str]:
        present = {s.source for c in self.charges for s in c.standards}
        return [s for s in FUNDING_ORDER if s in present]

    def total(self, source: str) -> Decimal:
        """Σ amount × member-years of the fixed amounts of `source`."""
        return sum(
            (
                s.amount * c.years
                for c in self.charges
                for s in c.standards
                if s.source == source and s.amount is not None
            ),
            Decimal(0),
        )

    def member_years(self, source: str) -> int:
        return sum(c.years for c in self.charges if any(s.source == source for s in c.standards))


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "CNY"}


def _yuan(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _valued_item(c: Charge, s: Standard) -> dict[str, Any]:
    item: dict[str, Any] = {
        "entityReference": {"reference": c.definition, "display": c.title},
        "quantity": {"value": c.years, "unit": PERSON_YEAR},
    }
    if s.amount is None:
        item["payment"] = s.basis or "按地方标准（由各地级以上市确定）"
    else:
        item["unitPrice"] = _money(s.amount)
        item["net"] = _money(s.amount * c.years)
    return item


def fee_terms(fees: FeeBreakdown) -> list[dict[str, Any]]:
    """Contract.term: one per funding source; one asset per member (`context` → the Patient) with
    one valuedItem per package or item (`entityReference` → its definition, `quantity` in
    resident-years, `unitPrice` per resident and year, `net` = unit × years); the parts a fixed
    amount includes (5.13 / 4.38 / 10 of the 20 yuan, 附件1 备注2) as `group` sub-terms."""
    terms = []
    for source in fees.sources():
        assets: dict[str, list[dict[str, Any]]] = {}
        parts: dict[str, tuple[Decimal, int]] = {}
        for c in fees.charges:
            for s in c.standards:
                if s.source != source:
                    continue
                assets.setdefault(c.member, []).append(_valued_item(c, s))
                for label, amount in s.parts:
                    _, years = parts.get(label, (amount, 0))
                    parts[label] = (amount, years + c.years)
        total, years = fees.total(source), fees.member_years(source)
        term: dict[str, Any] = {
            "type": {"coding": [{"system": FUNDING_SOURCE, "code": source}]},
            "offer": {
                "text": f"合计 {_yuan(total)} 元（{years} {PERSON_YEAR}，已定额部分；"
                "未定额部分按地方标准）"
            },
            "asset": [
                {"context": [{"reference": {"reference": member}}], "valuedItem": items}
                for member, items in assets.items()
            ],
        }
        groups = [
            {
                "offer": {"text": f"其中 {label} {_yuan(amount)} 元/{PERSON_YEAR}"},
                "asset": [
                    {
                        "valuedItem": [
                            {
                                "entityCodeableConcept": {"text": label},
                                "quantity": {"value": n, "unit": PERSON_YEAR},
                                "unitPrice": _money(amount),
                                "net": _money(amount * n),
                            }
                        ]
                    }
                ],
            }
            for label, (amount, n) in parts.items()
        ]
        if groups:
            term["group"] = groups
        terms.append(term)
    return terms


def fee_extensions(fees: FeeBreakdown) -> list[dict[str, Any]]:
    """Contract-level fee-standard extensions: the total of each funding source for the whole
    term and every member (fixed amounts only)."""
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
                {
                    "url": "component",
                    "valueString": f"合计（{fees.member_years(source)} {PERSON_YEAR}）",
                },
            ],
        }
        for source in fees.sources()
    ]


def charged(contract: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """What a stored contract charges: member → {definition reference → years} (from its terms)."""
    out: dict[str, dict[str, int]] = {}
    for term in contract.get("term") or []:
        for asset in term.get("asset") or []:
            members = [
                (c.get("reference") or {}).get("reference") for c in asset.get("context") or []
            ]
            for member in (m for m in members if m):
                for item in asset.get("valuedItem") or []:
                    ref = (item.get("entityReference") or {}).get("reference")
                    years = (item.get("quantity") or {}).get("value")
                    if ref and isinstance(years, int):
                        out.setdefault(member, {})[ref] = years
    return out


def with_fees(contract: Mapping[str, Any], fees: FeeBreakdown) -> dict[str, Any]:
    """The contract with its fee terms and fee-standard totals replaced by `fees`."""
    body = dict(contract)
    ext = [e for e in contract.get("extension") or [] if e.get("url") != EXT_FEE]
    body["extension"] = ext + fee_extensions(fees)
    terms = fee_terms(fees)
    if terms:
        body["term"] = terms
    else:
        body.pop("term", None)
    return body


def package_extensions(packages: Iterable[str]) -> list[dict[str, Any]]:
    """One contract-package extension per package (Contract?package=)."""
    return [{"url": EXT_PACKAGE, "valueCanonical": url} for url in dict.fromkeys(packages) if url]


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


def contract_years(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] cut at the anniversaries of `start` (the last year may be short)."""
    from datetime import timedelta

    out: list[tuple[date, date]] = []
    low = start
    while low <= end:
        high = min(add_years_end(start, len(out) + 1), end)
        out.append((low, high))
        low = high + timedelta(days=1)
    return out


def add_years_end(start: date, years: int) -> date:
    """The last day (inclusive) of a term of `years` years from `start` (29 Feb → 28 Feb)."""
    from datetime import timedelta

    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)


# -- doctor reports: panel size, signings by channel, signing-fee remuneration ----------------------
@dataclass(frozen=True)
class DoctorLine:
    role: str  # PractitionerRole/<id>
    practitioner: str | None
    sinking_from: (
        str | None
    )  # the leading hospital of a sinking doctor (PractitionerRole.sinking-from)
    panel: int  # residents in force at the period's end
    resident_years: int  # contract years begun in the period, per resident
    fee: Decimal  # SIGNING_FEE × resident_years


@dataclass(frozen=True)
class SigningReport:
    start: date
    end: date
    doctors: tuple[DoctorLine, ...]
    teams: tuple[tuple[str, int], ...]  # (CareTeam/<id>, panel at the period's end)
    channels: tuple[tuple[str, int, int], ...]  # (channel code, contracts signed, residents)
    panel: int

    @property
    def fee(self) -> Decimal:
        return sum((d.fee for d in self.doctors), Decimal(0))


def signer_role(contract: Mapping[str, Any]) -> str | None:
    """The signing doctor: the contract's signer whose party is a PractitionerRole."""
    return next(
        (
            s["party"]["reference"]
            for s in contract.get("signer") or []
            if (s.get("party") or {}).get("reference", "").startswith("PractitionerRole/")
        ),
        None,
    )


def _ext_ref(resource: Mapping[str, Any], url: str) -> str | None:
    for ext in resource.get("extension") or []:
        if ext.get("url") == url:
            return (ext.get("valueReference") or {}).get("reference")
    return None


def years_begun(contract: Mapping[str, Any], start: date, end: date) -> int:
    """Contract years of `contract` beginning within [start, end] (and before it ended)."""
    applies = contract.get("applies") or {}
    if not applies.get("start") or not applies.get("end"):
        return 0
    c_start = date.fromisoformat(applies["start"][:10])
    c_end = date.fromisoformat(applies["end"][:10])
    return sum(1 for low, _ in contract_years(c_start, c_end) if start <= low <= end)


def signing_report(
    contracts: Iterable[Mapping[str, Any]],
    roles: Mapping[str, Mapping[str, Any]],
    start: date,
    end: date,
) -> SigningReport:
    """Panel size per doctor and team at `end` (residents with a contract in force), signings by
    channel in [start, end] (contracts issued), and the signing-fee remuneration per signing doctor:
    10 yuan per resident and contract year begun in the period (附件1 备注2 家庭医生签约服务费10元/人),
    sinking doctors included (粤(二): 合理劳动报酬根据签约服务协议确定) and marked by sinking-from."""
    panel: dict[str, set[str]] = {}
    years: dict[str, int] = {}
    teams: dict[str, set[str]] = {}
    channels: dict[str, tuple[int, int]] = {}
    everyone: set[str] = set()
    for c in contracts:
        members = [s.get("reference", "") for s in c.get("subject") or []]
        role = signer_role(c)
        team = _ext_ref(c, EXT_CARE_TEAM)
        if is_active(c, end):
            everyone.update(members)
            if role:
                panel.setdefault(role, set()).update(members)
            if team:
                teams.setdefault(team, set()).update(members)
        if role:
            years[role] = years.get(role, 0) + years_begun(c, start, end) * len(members)
            panel.setdefault(role, set())
        issued = (c.get("issued") or "")[:10]
        if issued and start.isoformat() <= issued <= end.isoformat():
            code = (
                next(
                    (
                        e.get("valueCoding", {}).get("code")
                        for e in c.get("extension") or []
                        if e.get("url") == EXT_CHANNEL
                    ),
                    None,
                )
                or "unknown"
            )
            n, residents = channels.get(code, (0, 0))
            channels[code] = (n + 1, residents + len(members))
    doctors = []
    for role in sorted(panel):
        found = roles.get(role) or {}
        doctors.append(
            DoctorLine(
                role,
                (found.get("practitioner") or {}).get("reference"),
                _ext_ref(found, EXT_SINKING_FROM),
                len(panel[role]),
                years.get(role, 0),
                SIGNING_FEE * years.get(role, 0),
            )
        )
    order = {c: i for i, c in enumerate((*CHANNELS, "unknown"))}
    return SigningReport(
        start,
        end,
        tuple(doctors),
        tuple((t, len(m)) for t, m in sorted(teams.items())),
        tuple(
            (code, n, r)
            for code, (n, r) in sorted(channels.items(), key=lambda kv: order.get(kv[0], 99))
        ),
        len(everyone),
    )
