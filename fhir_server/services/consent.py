"""Consent evaluation: does a resident's `Consent` let this requester see or use this data?

Spec: FHIR R4 consent.html ("Privacy Consent Directive", §"Provisions": a base policy in
`Consent.provision` with nested provisions as exceptions; `actor`, `action`, `purpose`,
`class`, `code`, `data`, `period`).  Seeds: a resident may refuse to share with a given
institution and may withdraw from health pushes (国卫办基层发〔2025〕21号 — services on the resident's
terms).

One evaluator serves the access gate (reads, searches, includes, history, Bundle entries; pushed
into SQL by `services.access`) and the workflows (pushes, outbox adapters, Subscriptions, bulk
export).  The rules, as implemented:

- A Consent counts when `status` is `active`, its `scope` is `patient-privacy`, `treatment` or
  absent (research and advance-directive consents do not govern access), and it names
  `Consent.patient`.
- A provision *applies* to a request when every criterion it states holds (R4
  consent-definitions.html, Consent.provision.*):
  - `period` covers the moment;
  - `actor`: one of its references is one of the requester's, in a `role` the requester acts in
    (v3 ParticipationType; a requester receiving data acts as `IRCP`/`PRCP`, see
    `RECIPIENT_ROLES`) — an actor without a role is any role, another role is undecidable;
  - `action` (consentaction), `purpose` (v3 PurposeOfUse) codes: one is the request's;
  - `class`: resource-types codes match the type; a profile canonical the resource's
    `meta.profile` (or the base type's own StructureDefinition URL); an `urn:ietf:bcp:13` MIME
    type a document's `contentType` (DocumentReference, Binary, Media; any other type is no
    document);
  - `code` and `securityLabel`: the code is found in the resource (any Coding in it; labels in
    `meta.security`); push-channel codes (`PUSH_CHANNEL_SYSTEM`, `all`) and the guide's
    `consent-channel` extension name the health-push channels the provision covers: they hold
    for a push on one of them and never for anything else;
  - `dataPeriod` overlaps the resource's clinical time (effective, onset, performed, period …);
  - `data`: `instance` is the resource itself, `dependents` also what refers to it,
    `authoredby` what it authored (author, recorder, performer …), `related` also what it refers
    to (undecidable without that resource: see below).
  A criterion the evaluator cannot decide (a code system it does not know, the resource's content
  when only the type is asked about, a purpose when the requester states none) counts as holding
  for a `deny` and not holding for a `permit`: uncertainty never widens access.
- An applying provision's `type` is its verdict (for the root, a missing type falls back to
  `policyRule` OPTIN → permit / OPTOUT → deny); an applying nested provision overrides its
  parent (nested provisions are exceptions), `deny` winning among siblings.  A provision that
  does not apply says nothing, and neither do its children.
- Across a patient's Consents any `deny` wins; without any verdict the default is permit (the
  access policy alone decides).

Use from a workflow (actions: `access` reads, `correct` writes, `use`, `disclose` to outside
systems — code system http://terminology.hl7.org/CodeSystem/consentaction):

    consents = ConsentEvaluator.for_repository(repo)      # reads Consents as the system
    request = ConsentRequest(frozenset({"Organization/chc-1"}), action="disclose")
    if consents.permits("p1", request, "Communication"): ...

Withdrawing from health pushes is a Consent with a `deny` provision whose `class` is
`Communication` and `action` is `disclose` (every channel), or one naming channels (push-channel
codes in `code`, or `consent-channel` extensions, as the guide's `jiayi-push-channel-consent`):
reads of past Communications stay allowed, new pushes are not sent (`denied_push_channels`).
A channel opt-out never hides the record from anyone: it covers pushes only.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal

from .every_match import search_all

Verdict = Literal["permit", "deny"]
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
STRUCTURE_DEFINITION_BASE = "http://hl7.org/fhir/StructureDefinition/"
MIME_SYSTEM = "urn:ietf:bcp:13"
ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PUSH_CHANNEL_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-channel"
CONSENT_CHANNEL_EXT = "https://jiayi.health/fhir/StructureDefinition/consent-channel"
ALL_CHANNELS = "all"
#: every channel a health push goes out on (push-channel codes, without `all`)
PUSH_CHANNELS = frozenset({"app-inbox", "sms", "wechat"})
#: contact-point-system code of the `consent-channel` extension → the push channels it names
#: (the extension's definition: "other = app/WeChat"; no push goes out by voice call or e-mail)
CONTACT_SYSTEM_CHANNELS: dict[str, frozenset[str]] = {
    "sms": frozenset({"sms"}),
    "other": frozenset({"app-inbox", "wechat"}),
}
#: v3 ParticipationType roles of whoever receives the data (the reader of an API, the
#: recipient of a disclosure): information recipient, primary information recipient, receiver.
RECIPIENT_ROLES = frozenset({"IRCP", "PRCP", "RCV"})
#: Elements naming who authored a resource (`data.meaning` = `authoredby`).
AUTHOR_ELEMENTS = ("author", "recorder", "asserter", "performer", "requester", "sender",
                   "informant", "enterer", "source", "participant")  # fmt: skip
#: Elements holding a resource's clinical time (`dataPeriod`), in order of preference.
CLINICAL_TIME = ("effective", "onset", "performed", "occurrence", "issued", "authoredOn",
                 "recordedDate", "period", "date", "recorded", "created", "sent", "started",
                 "timing")  # fmt: skip
DOCUMENT_TYPES = frozenset({"DocumentReference", "Binary", "Media"})
GOVERNING_SCOPES = frozenset({"patient-privacy", "treatment"})
#: Finder: (resource type, search query) → resources, run as the system (not as the caller).
Finder = Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]]
#: Loader of the resources of one type in one patient's compartment (patient, type) → contents.
ContentLoader = Callable[[str, str], list[Mapping[str, Any]]]
#: A criterion's answer: holds, does not hold, or undecidable (None).
Answer = bool | None


@dataclass(frozen=True)
class ConsentRequest:
    """Who asks, to do what, for which purposes, when; `roles` the v3 ParticipationType roles
    the requester acts in, `channel` the health-push channel of a push (None: not a push)."""

    actors: frozenset[str]  # references naming the requester (Practitioner/…, Organization/…)
    action: str = "access"
    purposes: frozenset[str] = frozenset()  # v3 PurposeOfUse codes (TREAT, HOPERAT, PUBHLTH …)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    roles: frozenset[str] = RECIPIENT_ROLES
    channel: str | None = None


@dataclass(frozen=True)
class Subject:
    """What a request is about: a type, and when known the resource (`Type/id`) and content."""

    resource_type: str
    ref: str | None = None
    content: Mapping[str, Any] | None = None


def _codes(items: Any, *, concept: bool) -> set[tuple[str | None, str | None]]:
    out: set[tuple[str | None, str | None]] = set()
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        codings = item.get("coding", []) if concept else [item]
        for c in codings or []:
            if isinstance(c, Mapping):
                out.add((c.get("system"), c.get("code")))
    return out


def _instant(value: Any, end: bool) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value
    if len(text) == 4:
        text += "-12-31" if end else "-01-01"
    elif len(text) == 7:
        try:
            last = calendar.monthrange(int(text[:4]), int(text[5:7]))[1]
        except ValueError:
            return None
        text += f"-{last:02d}" if end else "-01"
    if len(text) == 10:
        text += "T23:59:59+00:00" if end else "T00:00:00+00:00"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def period_covers(period: Any, at: datetime) -> bool:
    """Does a FHIR Period (missing bounds open) cover the moment `at`?"""
    if not isinstance(period, Mapping):
        return True
    start, end = _instant(period.get("start"), False), _instant(period.get("end"), True)
    return (start is None or start <= at) and (end is None or at <= end)


def governs(consent: Mapping[str, Any], at: datetime) -> bool:
    """Is this a privacy Consent in force at `at`?"""
    if consent.get("resourceType") != "Consent" or consent.get("status") != "active":
        return False
    scopes = {code for _s, code in _codes([consent.get("scope")], concept=True)}
    if scopes and not scopes & GOVERNING_SCOPES:
        return False
    root = consent.get("provision")
    return not isinstance(root, Mapping) or period_covers(root.get("period"), at)


def consent_patient(consent: Mapping[str, Any]) -> str | None:
    ref = (consent.get("patient") or {}).get("reference")
    if isinstance(ref, str) and ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


# -- criteria (pure: each answers True, False or None = undecidable) --------------------------------
def _any(answers: Iterable[Answer]) -> Answer:
    """An OR of answers: one True holds; else one undecidable is undecidable."""
    found = set(answers)
    return True if True in found else None if None in found else False


def _codings(content: Any) -> Iterable[tuple[str | None, str]]:
    """Every Coding (system, code) anywhere in a resource."""
    if isinstance(content, Mapping):
        code = content.get("code")
        if isinstance(code, str) and ("system" in content or "display" in content):
            system = content.get("system")
            yield (system if isinstance(system, str) else None), code
        for value in content.values():
            if isinstance(value, (Mapping, list)):
                yield from _codings(value)
    elif isinstance(content, list):
        for item in content:
            yield from _codings(item)


def _found(wanted: tuple[str | None, str | None], present: set[tuple[str | None, str]]) -> bool:
    system, code = wanted
    return any(code == c and (system is None or system == s) for s, c in present)


def _references(content: Any) -> Iterable[str]:
    if isinstance(content, Mapping):
        ref = content.get("reference")
        if isinstance(ref, str):
            yield ref
        for value in content.values():
            if isinstance(value, (Mapping, list)):
                yield from _references(value)
    elif isinstance(content, list):
        for item in content:
            yield from _references(item)


def _relative(ref: str) -> str:
    """`Type/id` of a reference (absolute URLs and `_history` suffixes dropped)."""
    parts = ref.split("/_history/", 1)[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ref


def actor_matches(actors: Any, request: ConsentRequest) -> Answer:
    answers: list[Answer] = []
    for actor in actors or []:
        if not isinstance(actor, Mapping):
            continue
        ref = (actor.get("reference") or {}).get("reference")
        if not isinstance(ref, str) or _relative(ref) not in request.actors:
            answers.append(False)
            continue
        roles = _codes([actor.get("role")], concept=True) if actor.get("role") else set()
        plays = any(
            code in request.roles and system in (None, PARTICIPATION_SYSTEM)
            for system, code in roles
        )
        if not roles or plays:
            answers.append(True)
        else:
            answers.append(None)  # this requester, in a role we cannot tell it plays
    return _any(answers)


def _coded(items: Any, concept: bool, system: str, wanted: frozenset[str]) -> Answer:
    answers: list[Answer] = []
    for s, code in _codes(items, concept=concept):
        answers.append(code in wanted if s in (None, system) else None)
    return _any(answers)


def _is_type_name(text: str) -> bool:
    return text[:1].isupper() and text.isalnum()


def class_matches(classes: Any, subject: Subject) -> Answer:
    content = subject.content
    answers: list[Answer] = []
    for system, code in _codes(classes, concept=False):
        if not isinstance(code, str):
            continue
        if system in (None, RESOURCE_TYPES_SYSTEM) and "/" not in code:
            answers.append(code == subject.resource_type)
        elif code.startswith(STRUCTURE_DEFINITION_BASE) and _is_type_name(
            base := code.removeprefix(STRUCTURE_DEFINITION_BASE)
        ):
            answers.append(base == subject.resource_type)  # a base type's own definition
        elif code.startswith(("http://", "https://")):  # a profile the resource claims
            if content is None:
                answers.append(None)
            else:
                profiles = (content.get("meta") or {}).get("profile") or []
                answers.append(any(str(p).split("|", 1)[0] == code for p in profiles))
        elif system == MIME_SYSTEM:
            if subject.resource_type not in DOCUMENT_TYPES:
                answers.append(False)
            elif content is None:
                answers.append(None)
            else:
                types = {c.split(";", 1)[0].strip() for c in _content_types(content)}
                answers.append(code in types)
        else:
            answers.append(None)  # a content class in a code system we do not know
    return _any(answers)


def _content_types(content: Mapping[str, Any]) -> Iterable[str]:
    if isinstance(content.get("contentType"), str):
        yield content["contentType"]
    for item in content.get("content") or []:
        if isinstance(item, Mapping):
            attachment = item.get("attachment") or item
            if isinstance(attachment, Mapping) and isinstance(attachment.get("contentType"), str):
                yield attachment["contentType"]
    media = content.get("content")
    if isinstance(media, Mapping) and isinstance(media.get("contentType"), str):
        yield media["contentType"]


def provision_channels(provision: Mapping[str, Any]) -> frozenset[str] | None:
    """The push channels a provision names (None: it names none, so it is not about pushes)."""
    named: set[str] = set()
    found = False
    for system, code in _codes(provision.get("code"), concept=True):
        if system == PUSH_CHANNEL_SYSTEM and isinstance(code, str):
            found = True
            named |= PUSH_CHANNELS if code == ALL_CHANNELS else {code}
    for ext in provision.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == CONSENT_CHANNEL_EXT:
            found = True
            named |= CONTACT_SYSTEM_CHANNELS.get(str(ext.get("valueCode")), frozenset())
    return frozenset(named) if found else None


def code_matches(codes: Any, subject: Subject) -> Answer:
    wanted = [
        (system, code)
        for system, code in _codes(codes, concept=True)
        if system != PUSH_CHANNEL_SYSTEM and isinstance(code, str)
    ]
    if not wanted:
        return True  # only channel codes: decided by `provision_channels`
    if subject.content is None:
        return None
    present = set(_codings(subject.content))
    return any(_found(w, present) for w in wanted)


def label_matches(labels: Any, subject: Subject) -> Answer:
    if subject.content is None:
        return None
    present = {
        (s, c)
        for s, c in _codes((subject.content.get("meta") or {}).get("security"), concept=False)
        if isinstance(c, str)
    }
    return any(_found(w, present) for w in _codes(labels, concept=False))


def clinical_time(content: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """The resource's clinical time as (start, end), from the first element of `CLINICAL_TIME`
    it has (a dateTime, instant, date or Period; suffixed choice types included)."""
    for name in CLINICAL_TIME:
        for key in (name, *(k for k in content if k.startswith(name) and k != name)):
            value = content.get(key)
            if isinstance(value, str):
                start, end = _instant(value, False), _instant(value, True)
            elif isinstance(value, Mapping) and ("start" in value or "end" in value):
                start, end = _instant(value.get("start"), False), _instant(value.get("end"), True)
                start = start or datetime.min.replace(tzinfo=UTC)
                end = end or datetime.max.replace(tzinfo=UTC)
            else:
                continue
            if start is not None and end is not None:
                return start, end
    return None


def data_period_matches(period: Any, subject: Subject) -> Answer:
    if subject.content is None or not isinstance(period, Mapping):
        return None
    found = clinical_time(subject.content)
    if found is None:
        return None
    lo = _instant(period.get("start"), False) or datetime.min.replace(tzinfo=UTC)
    hi = _instant(period.get("end"), True) or datetime.max.replace(tzinfo=UTC)
    return found[0] <= hi and lo <= found[1]


def data_matches(data: Any, subject: Subject) -> Answer:
    answers: list[Answer] = []
    content = subject.content
    for item in data or []:
        if not isinstance(item, Mapping):
            continue
        ref = (item.get("reference") or {}).get("reference")
        if not isinstance(ref, str):
            continue
        target = _relative(ref)
        meaning = item.get("meaning") or "instance"
        if target == subject.ref:
            answers.append(meaning != "authoredby")
            if meaning != "authoredby":
                continue
        if meaning == "instance":
            answers.append(False)
        elif content is None:
            answers.append(None)
        elif meaning == "dependents":
            answers.append(target in {_relative(r) for r in _references(content)})
        elif meaning == "authoredby":
            authors = {
                _relative(r)
                for name in AUTHOR_ELEMENTS
                if name in content
                for r in _references(content[name])
            }
            answers.append(target in authors)
        else:  # related: what `target` refers to, which only its own content tells
            answers.append(None)
    return _any(answers) if answers else False


def criteria(provision: Mapping[str, Any], request: ConsentRequest, subject: Subject
             ) -> list[Answer]:  # fmt: skip
    """The answers of every criterion a provision states, for this request and subject."""
    out: list[Answer] = [period_covers(provision.get("period"), request.at)]
    if provision.get("actor"):
        out.append(actor_matches(provision["actor"], request))
    if provision.get("action"):
        out.append(_coded(provision["action"], True, ACTION_SYSTEM, frozenset({request.action})))
    if provision.get("purpose"):
        out.append(
            _coded(provision["purpose"], False, PURPOSE_SYSTEM, request.purposes)
            if request.purposes
            else None
        )
    if provision.get("class"):
        out.append(class_matches(provision["class"], subject))
    channels = provision_channels(provision)
    if channels is not None:
        out.append(request.channel in channels)
    if provision.get("code"):
        out.append(code_matches(provision["code"], subject))
    if provision.get("securityLabel"):
        out.append(label_matches(provision["securityLabel"], subject))
    if provision.get("dataPeriod"):
        out.append(data_period_matches(provision["dataPeriod"], subject))
    if provision.get("data"):
        out.append(data_matches(provision["data"], subject))
    return out


@dataclass
class _Trace:
    """Whether an evaluation met an undecidable criterion (its verdict may change with content)."""

    uncertain: bool = False


def _applies(
    provision: Mapping[str, Any],
    request: ConsentRequest,
    subject: Subject,
    verdict: Verdict | None,
    trace: _Trace,
) -> bool:
    answers = criteria(provision, request, subject)
    if False in answers:
        return False
    if None in answers:
        trace.uncertain = True
        return verdict == "deny"
    return True


def _node(
    provision: Any,
    request: ConsentRequest,
    subject: Subject,
    trace: _Trace,
    fallback: Verdict | None = None,
) -> Verdict | None:
    if not isinstance(provision, Mapping):
        return fallback
    kind = provision.get("type")
    verdict: Verdict | None = kind if kind in ("permit", "deny") else fallback
    if not _applies(provision, request, subject, verdict, trace):
        return None
    children = [
        _node(child, request, subject, trace) for child in provision.get("provision", []) or []
    ]
    if "deny" in children:
        return "deny"
    if "permit" in children:
        return "permit"
    return verdict


def _evaluate(
    consent: Mapping[str, Any], request: ConsentRequest, subject: Subject, trace: _Trace
) -> Verdict | None:
    if not governs(consent, request.at):
        return None
    rules = {code for _s, code in _codes([consent.get("policyRule")], concept=True)}
    fallback: Verdict | None = (
        "deny" if "OPTOUT" in rules else "permit" if "OPTIN" in rules else None
    )
    root = consent.get("provision")
    if root is None:
        return fallback
    return _node(root, request, subject, trace, fallback)


def evaluate(
    consent: Mapping[str, Any],
    request: ConsentRequest,
    resource_type: str,
    resource_ref: str | None = None,
    content: Mapping[str, Any] | None = None,
) -> Verdict | None:
    """One Consent's verdict on `resource_type` (and, when given, the resource `Type/id` and its
    content, which decide `code`, `securityLabel`, `dataPeriod`, profile classes …)."""
    if content is not None and resource_ref is None and content.get("id"):
        resource_ref = f"{resource_type}/{content.get('id')}"
    return _evaluate(consent, request, Subject(resource_type, resource_ref, content), _Trace())


def depends_on_content(
    consent: Mapping[str, Any], request: ConsentRequest, resource_type: str
) -> bool:
    """Does this Consent's verdict on `resource_type` depend on the resource (its content)?"""
    trace = _Trace()
    _evaluate(consent, request, Subject(resource_type), trace)
    return trace.uncertain


#: Why a health push is sent (v3 PurposeOfUse): it is part of the contracted family-doctor service.
PUSH_PURPOSES = frozenset({"TREAT"})
_CHINA = timezone(timedelta(hours=8))


def push_request(
    channel: str, at: date | datetime, purposes: frozenset[str] = PUSH_PURPOSES
) -> ConsentRequest:
    """The Consent request of a health push on `channel`: a disclosure of a `Communication` to
    the resident through the channel, nobody else as actor (a day means midday in China)."""
    when = at if isinstance(at, datetime) else datetime.combine(at, time(12), _CHINA)
    return ConsentRequest(frozenset(), "disclose", purposes, when, channel=channel)


def denied_push_channels(
    consents: Iterable[Mapping[str, Any]],
    at: date | datetime,
    channels: Iterable[str] = PUSH_CHANNELS,
    communication: Mapping[str, Any] | None = None,
) -> frozenset[str]:
    """The channels among `channels` a resident's Consents deny a health push on, by the same
    rules as every other use of their data: a channel opt-out (push-channel codes in
    `provision.code`, `all` for every channel, or the guide's `consent-channel` extension), a
    withdrawal from pushes (`deny` of `Communication` for `disclose`), an `OPTOUT` without
    provisions … (`communication`: the push itself, when content criteria should see it)."""
    items = list(consents)
    return frozenset(
        channel
        for channel in channels
        if combine(
            evaluate(c, push_request(channel, at), "Communication", None, communication)
            for c in items
        )
        == "deny"
    )


def combine(verdicts: Iterable[Verdict | None]) -> Verdict | None:
    found = set(verdicts)
    return "deny" if "deny" in found else "permit" if "permit" in found else None


def data_references(consent: Mapping[str, Any]) -> set[str]:
    """Every `provision.data.reference` anywhere in a Consent."""
    out: set[str] = set()

    def walk(provision: Any) -> None:
        if not isinstance(provision, Mapping):
            return
        for d in provision.get("data", []) or []:
            ref = (d.get("reference") or {}).get("reference") if isinstance(d, Mapping) else None
            if isinstance(ref, str):
                out.add(ref)
        for child in provision.get("provision", []) or []:
            walk(child)

    walk(consent.get("provision"))
    return out


@dataclass(frozen=True)
class TypeView:
    """What one patient's Consents decide for one requester and resource type.

    `denied`: the type as a whole is denied; `exceptions`: ids of resources of the type whose
    verdict differs from the type's (permitted despite a type-level deny, or denied by a
    resource-level provision)."""

    denied: bool
    exceptions: frozenset[str] = frozenset()


def type_view(
    consents: Iterable[Mapping[str, Any]],
    request: ConsentRequest,
    resource_type: str,
    contents: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
) -> TypeView:
    """What one patient's Consents decide for `resource_type`.  When a verdict depends on the
    resources themselves (`code`, `securityLabel`, `dataPeriod` …) and `contents` can list the
    patient's resources of the type, each is judged on its content; otherwise the undecidable
    criteria count as holding for a deny (the whole type may be denied)."""
    items = [c for c in consents if governs(c, request.at)]
    if contents is not None and any(depends_on_content(c, request, resource_type) for c in items):
        hidden = {
            str(content.get("id"))
            for content in contents()
            if combine(evaluate(c, request, resource_type, None, content) for c in items) == "deny"
        }
        return TypeView(False, frozenset(hidden))
    denied = combine(evaluate(c, request, resource_type) for c in items) == "deny"
    exceptions = set()
    for ref in {r for c in items for r in data_references(c)}:
        rtype, _, rid = _relative(ref).partition("/")
        if rtype != resource_type or not rid:
            continue
        verdict = combine(evaluate(c, request, resource_type, f"{rtype}/{rid}") for c in items)
        if (verdict == "deny") != denied:
            exceptions.add(rid)
    return TypeView(denied, frozenset(exceptions))


class ConsentEvaluator:
    """Consents per patient, loaded once (through `find`, as the system) and evaluated."""

    def __init__(self, find: Finder, contents: ContentLoader | None = None) -> None:
        """`contents`: lists a patient's resources of a type (as the system), so verdicts that
        depend on the resources themselves are decided on them (`view`)."""
        self._find = find
        self._contents = contents
        self._by_patient: dict[str, list[dict[str, Any]]] = {}
        self._all: bool = False

    @classmethod
    def for_repository(cls, repo: Any) -> ConsentEvaluator:
        """An evaluator reading Consents through `repo` acting as the system (any caller)."""
        system = repo.as_system("consent")

        def find(resource_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
            return search_all(system, resource_type, query)

        return cls(find)

    def consents(self, patient: str) -> list[dict[str, Any]]:
        if patient not in self._by_patient:
            if self._all:
                return []
            found = self._find("Consent", [("patient", f"Patient/{patient}"), ("status", "active")])
            self._by_patient[patient] = found
        return self._by_patient[patient]

    def preload(self, patients: Iterable[str] | None) -> None:
        """Load the Consents of `patients` (None: every active Consent) in one pass."""
        wanted = None if patients is None else sorted(set(patients) - set(self._by_patient))
        if wanted == []:
            return
        query = [("status", "active")]
        if wanted is not None:
            query.append(("patient", ",".join(f"Patient/{p}" for p in wanted)))
        found: dict[str, list[dict[str, Any]]] = {p: [] for p in wanted or []}
        for consent in self._find("Consent", query):
            patient = consent_patient(consent)
            if patient is not None:
                found.setdefault(patient, []).append(consent)
        self._by_patient.update(found)
        if wanted is None:
            self._all = True

    def patients_with_consents(self) -> list[str]:
        return sorted(p for p, items in self._by_patient.items() if items)

    def verdict(
        self,
        patient: str,
        request: ConsentRequest,
        resource_type: str,
        resource_ref: str | None = None,
        content: Mapping[str, Any] | None = None,
    ) -> Verdict | None:
        return combine(
            evaluate(c, request, resource_type, resource_ref, content)
            for c in self.consents(patient)
        )

    def permits(
        self,
        patient: str,
        request: ConsentRequest,
        resource_type: str,
        resource_ref: str | None = None,
        content: Mapping[str, Any] | None = None,
    ) -> bool:
        """False when the patient's Consents deny this request (default: permitted)."""
        return self.verdict(patient, request, resource_type, resource_ref, content) != "deny"

    def view(self, patient: str, request: ConsentRequest, resource_type: str) -> TypeView:
        loader = self._contents
        contents = (lambda: loader(patient, resource_type)) if loader is not None else None
        return type_view(self.consents(patient), request, resource_type, contents)
