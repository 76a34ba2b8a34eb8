"""FHIR date, dateTime and instant values as UTC periods (datatypes.html#dateTime).

A value stands for the whole period its precision implies: `2026` is [2026-01-01, 2027-01-01).
Values without a time zone are read as UTC (a server's documented choice; the spec leaves it open).
A period reaching past the ends of the calendar Python can hold (year 1 with a positive offset,
9999-12-31 with a negative one) is clamped to those ends instead of failing.  In a URL an unescaped
`+` arrives as a space, so `2026-01-01T08:00:00 08:00` reads as `+08:00`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})(T(?P<H>\d{2})(:(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?)?"
    r"(?P<tz>Z|[+\- ]\d{2}:\d{2})?)?)?)?$"
)


#: The first and last instants representable, in UTC.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _add_months(dt: datetime, months: int) -> datetime:
    y, m = divmod(dt.month - 1 + months, 12)
    return dt.replace(year=dt.year + y, month=m + 1)


def parse_period(value: str) -> tuple[datetime, datetime]:
    """`value` → [start, end) in UTC.  Raises ValueError for anything not a FHIR date/dateTime."""
    m = _DATE.match(value.strip(" \t\r\n"))
    if not m:
        raise ValueError(f"'{value}' is not a FHIR date, dateTime or instant")
    tz: tzinfo = UTC
    if m["tz"] and m["tz"] != "Z":
        sign = -1 if m["tz"][0] == "-" else 1
        hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
        if hours > 14 or minutes > 59:
            raise ValueError(f"'{value}' has an impossible time-zone offset")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    year = int(m["y"])
    month = int(m["m"] or 1)
    day = int(m["d"] or 1)
    hour = int(m["H"] or 0)
    minute = int(m["M"] or 0)
    second = int(m["S"] or 0)
    micro = int(((m["f"] or ".0")[1:] + "000000")[:6])
    try:
        start = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid date or time: {exc}") from exc
    return _utc(start), _utc_end(start, m)


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return EARLIEST if moment.year == 1 else LATEST


def _utc_end(start: datetime, m: re.Match[str]) -> datetime:
    """The exclusive end of the period that starts at `start` with the precision of match `m`."""
    try:
        end = _period_end(start, m)
    except (OverflowError, ValueError):  # past 9999-12-31
        return LATEST
    return _utc(end)


def _period_end(start: datetime, m: re.Match[str]) -> datetime:
    if m["f"]:
        end = start + timedelta(microseconds=10 ** (6 - min(len(m["f"]) - 1, 6)))
    elif m["S"]:
        end = start + timedelta(seconds=1)
    elif m["M"]:
        end = start + timedelta(minutes=1)
    elif m["H"]:
        end = start + timedelta(hours=1)
    elif m["d"]:
        end = start + timedelta(days=1)
    elif m["m"]:
        end = _add_months(start, 1)
    else:
        end = start.replace(year=start.year + 1)
    return end


def parse_instant(value: str) -> datetime:
    """The start of the period `value` names."""
    return parse_period(value)[0]
