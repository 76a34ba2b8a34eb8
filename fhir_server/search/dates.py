"""FHIR date/dateTime/instant values as inclusive millisecond ranges (precision semantics).

Spec: http://hl7.org/fhir/R4/search.html#date: a date is the range implied by its precision
(`2020` is all of 2020).  Ranges are [low, high] in epoch milliseconds, both inclusive; a missing
end is open (MIN_MS / MAX_MS).  Values without a time zone are taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

MIN_MS = -62135596800000  # 0001-01-01T00:00:00Z
MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _ms(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def _zone(tz: str | None) -> timezone:
    if not tz or tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def date_range(value: str) -> tuple[int, int] | None:
    """[low, high] in epoch ms for a FHIR date, dateTime or instant; None if malformed."""
    m = _DATE.match(value.strip())
    if not m:
        return None
    g = m.groupdict()
    tz = _zone(g["tz"])
    try:
        y = int(g["y"])
        if g["m"] is None:
            start, end = (
                datetime(y, 1, 1, tzinfo=tz),
                datetime(y + 1, 1, 1, tzinfo=tz) if y < 9999 else None,
            )
        elif g["d"] is None:
            mo = int(g["m"])
            start = datetime(y, mo, 1, tzinfo=tz)
            ny, nm = _next_month(y, mo)
            end = datetime(ny, nm, 1, tzinfo=tz) if ny <= 9999 else None
        elif g["H"] is None:
            start = datetime(y, int(g["m"]), int(g["d"]), tzinfo=tz)
            end = start + timedelta(days=1)
        else:
            start = datetime(y, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), tzinfo=tz)
            if g["S"] is None:
                end = start + timedelta(minutes=1)
            elif g["f"] is None:
                start = start.replace(second=int(g["S"]))
                end = start + timedelta(seconds=1)
            else:
                frac = g["f"][:3]
                start = start.replace(
                    second=int(g["S"]), microsecond=int(frac.ljust(3, "0")) * 1000
                )
                end = start + timedelta(milliseconds=10 ** (3 - len(frac)))
    except ValueError:
        return None
    except OverflowError:  # the period runs past 9999-12-31T23:59:59: open at the top
        end = None
    return _ms(start), (_ms(end) - 1 if end is not None else MAX_MS)


def period_range(start: str | None, end: str | None) -> tuple[int, int] | None:
    """A Period: open at a missing boundary."""
    low = date_range(start) if start else None
    high = date_range(end) if end else None
    if (start and low is None) or (end and high is None) or (low is None and high is None):
        return None
    return (low[0] if low else MIN_MS), (high[1] if high else MAX_MS)


def to_datetime(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
