"""Checks that hold for every resource (INTERFACE.md): resident ID numbers and division codes.

* Chinese resident identity card number (居民身份证号码), GB 11643-1999: 18 characters = 6-digit GB/T
  2260 region of first registration, 8-digit birth date (YYYYMMDD), 3-digit sequence, ISO 7064
  MOD 11-2 check character (0-9 or X).  Checked (format, birth date, region, check digit, in that
  order, so the message names the first problem) for every `Identifier` whose system is the national
  OID `urn:oid:2.16.156.10011.1.3` or HL7 China's `urn:oid:2.16.840.1.113883.2.23.1.19.1`, anywhere in
  the resource.  python-stdnum's `stdnum.cn.ric` provides the rules and the GB/T 2260 data.
* The address extension `https://jiayi.health/fhir/StructureDefinition/division-code` (`valueCode`)
  must hold a known GB/T 2260 code: the guide's Guangdong CodeSystem
  (`terminology/CodeSystem-gb2260-guangdong.json`), else python-stdnum's national table (`cn/loc`).

* The ID number encodes its holder's birth date (digits 7–14) and sex (digit 17: odd male, even
  female).  On a Patient, RelatedPerson, Practitioner or Person with a valid ID number among its own
  identifiers, `gender` (male/female) must agree with the number: an error (`JY-ID-RIC-GENDER`), since
  a number of the other sex almost surely belongs to someone else (a change of sex on the register
  issues a new number); `birthDate` must agree to its precision: a warning (`JY-ID-RIC-BIRTHDATE`),
  since the registered date is known to differ from the true one for some residents (a lunar-
  calendar date, a late registration) and the record should keep the true date.

Issues: code `value`, expression at the offending element, e.g. `Patient.identifier[0].value`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stdnum import numdb
from stdnum.cn import ric

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue

from .walk import Visit, walk

RIC_SYSTEMS = frozenset({"urn:oid:2.16.156.10011.1.3", "urn:oid:2.16.840.1.113883.2.23.1.19.1"})
DIVISION_CODE_URL = "https://jiayi.health/fhir/StructureDefinition/division-code"
GB2260_GUANGDONG = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"


def ric_problem(number: str, today: dt.date | None = None) -> str | None:
    """Why `number` is not a valid resident ID number (None when it is)."""
    if len(number) != 18:
        return f"must have 18 characters, not {len(number)}"
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return "must be 17 digits followed by a digit or an upper-case X"
    try:
        born = ric.get_birth_date(number)
    except ric.InvalidComponent:
        return f"birth date {number[6:14]} is not a calendar date"
    if born > (today or dt.date.today()) or born.year < 1850:
        return f"birth date {born.isoformat()} is not plausible"
    if not region_in_use_since(number[:6], born.year):
        return f"region code {number[:6]} is not a GB/T 2260 division in use since the birth year"
    if ric.calc_check_digit(number) != number[17]:
        return f"check digit should be {ric.calc_check_digit(number)}, not {number[17]}"
    return None


_YEARS = re.compile(r"^\[(\d{4})?-(\d{4})?\]")


def region_in_use_since(code: str, year: int) -> bool:
    """Whether the county-level GB/T 2260 `code` was in use at some time from `year` on.

    The region of an ID number is where it was first issued, which may be years after birth
    (Dongguan's 441900 dates from 1988, yet residents born before then carry it), so a code retired
    before the birth year is refused and one created later is not."""
    parts = numdb.get("cn/loc").info(code)
    if len(parts) < 2 or "county" not in parts[-1][1]:
        return False
    for name in parts[-1][1]["county"].split(","):
        span = _YEARS.match(name.strip())
        if span is None or span.group(2) is None or int(span.group(2)) >= year:
            return True
    return False


PERSON_TYPES = frozenset({"Patient", "RelatedPerson", "Practitioner", "Person"})


def demographic_problems(number: str, birth_date: Any, gender: Any) -> list[tuple[str, str, str]]:
    """(element, severity, text) where `birthDate`/`gender` contradict a valid ID `number`."""
    problems: list[tuple[str, str, str]] = []
    encoded = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    if isinstance(birth_date, str) and not encoded.startswith(birth_date[:10]):
        problems.append(
            (
                "birthDate",
                "warning",
                f"birthDate {birth_date} differs from the birth date {encoded} the resident ID "
                "number records (GB 11643); keep the true date, and check the number",
            )
        )
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    if gender in ("male", "female") and gender != sex:
        problems.append(
            (
                "gender",
                "error",
                f"gender {gender} contradicts the resident ID number, which is a {sex} "
                "holder's (GB 11643: the 17th digit is odd for male, even for female)",
            )
        )
    return problems


def guangdong_codes(ig_resources: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Every code of the guide's Guangdong GB/T 2260 CodeSystem."""
    codes: set[str] = set()
    for res in ig_resources:
        if res.get("resourceType") == "CodeSystem" and res.get("url") == GB2260_GUANGDONG:
            stack = list(res.get("concept", []))
            while stack:
                concept = stack.pop()
                codes.add(concept["code"])
                stack.extend(concept.get("concept", []))
    return frozenset(codes)


def is_division_code(code: str, local: frozenset[str]) -> bool:
    if code in local:
        return True
    if len(code) != 6 or not code.isdigit():
        return False
    parts = numdb.get("cn/loc").info(code)
    return any("county" in props for _, props in parts)


class IdentifierStage:
    """Validation stage: resident ID numbers and division codes anywhere in a resource."""

    def __init__(self, defs: R4Definitions, ig_resources: Iterable[Mapping[str, Any]]) -> None:
        self.defs = defs
        self.guangdong = guangdong_codes(ig_resources)

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        return self.examine(list(walk(resource, self.defs)))

    def examine(self, visits: Sequence[Visit]) -> list[Issue]:
        """The issues of a walk of the resource (`Validator` walks once for every stage)."""
        issues: list[Issue] = []
        for visit in visits:
            value = visit.value
            if not isinstance(value, dict):
                continue
            if visit.type == "Identifier" and value.get("system") in RIC_SYSTEMS:
                number = value.get("value")
                problem = ric_problem(number) if isinstance(number, str) else None
                if problem is None and isinstance(number, str):
                    issues.extend(_demographics(visit.resource, visit.expression, number))
                if problem is not None:
                    issues.append(
                        Issue(
                            "error",
                            "value",
                            f"Invalid resident ID number (GB 11643): {problem}",
                            (f"{visit.expression}.value",),
                            "JY-ID-RIC",
                        )
                    )
            elif visit.type == "Extension" and value.get("url") == DIVISION_CODE_URL:
                code = value.get("valueCode")
                if not isinstance(code, str) or not is_division_code(code, self.guangdong):
                    issues.append(
                        Issue(
                            "error",
                            "value",
                            f"division-code must hold a known GB/T 2260 code (valueCode), "
                            f"not {code!r}",
                            (f"{visit.expression}.valueCode",),
                            "JY-ID-GB2260",
                        )
                    )
        return issues


def _demographics(resource: dict[str, Any], expression: str, number: str) -> list[Issue]:
    """Issues of `birthDate`/`gender` against an ID number that is one of the person's own
    identifiers (`<Type>.identifier[i]`), not one found elsewhere (a contained resource, a
    reference's identifier)."""
    rtype = resource.get("resourceType")
    if rtype not in PERSON_TYPES or not re.fullmatch(
        rf"(.*\.)?{rtype}\.identifier\[\d+\]", expression
    ):
        return []
    head = expression.rsplit(".identifier[", 1)[0]
    return [
        Issue(
            severity,
            "value",
            text,
            (f"{head}.{element}",),
            "JY-ID-RIC-GENDER" if element == "gender" else "JY-ID-RIC-BIRTHDATE",
        )
        for element, severity, text in demographic_problems(
            number, resource.get("birthDate"), resource.get("gender")
        )
    ]
