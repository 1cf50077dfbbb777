"""When people work, for the spend guard: which weekdays, and which hours of them (24 h, one time zone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import NamedTuple

WEEKDAYS: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # index = datetime.weekday()
WORKING_HOURS_FORMAT = r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])"  # HH:MM-HH:MM, 24 h
_WORKING_HOURS = re.compile(WORKING_HOURS_FORMAT)


class WorkingHours(NamedTuple):
    """From ``start`` up to (not including) ``end``, the same every working day; start is before end."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def hours_per_day(self) -> float:
        return (self.end.hour - self.start.hour) + (self.end.minute - self.start.minute) / 60

    def includes(self, clock: time) -> bool:
        return self.start <= clock < self.end


def parse_working_hours(text: str) -> WorkingHours:
    """'07:00-19:00' -> (07:00, 19:00), end exclusive; ValueError unless HH:MM-HH:MM with start before end."""
    match = _WORKING_HOURS.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"working hours must look like 07:00-19:00 (24h), not {text!r}")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"working hours {text!r} must start before they end")
    return WorkingHours(start, end)


@dataclass(frozen=True)
class WorkingDays:
    """Weekday names (``WEEKDAYS``), in the order they were given; at least one."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        bad = [day for day in self.names if day not in WEEKDAYS]
        if not self.names or bad:
            raise ValueError(
                f"working days must be a comma-separated list of {', '.join(WEEKDAYS)}, not {','.join(self.names)!r}"
            )

    def __str__(self) -> str:
        return ",".join(self.names)

    @property
    def weekdays(self) -> frozenset[int]:
        """The days as ``datetime.weekday()`` numbers (Monday = 0)."""
        return frozenset(WEEKDAYS.index(day) for day in self.names)


def parse_working_days(text: str) -> WorkingDays:
    """'MON,TUE,WED' (any case, spaces around the names allowed); ValueError naming the text otherwise."""
    days = [part.strip().upper() for part in text.split(",") if part.strip()] if isinstance(text, str) else []
    if not days or any(day not in WEEKDAYS for day in days):
        raise ValueError(f"working days must be a comma-separated list of {', '.join(WEEKDAYS)}, not {text!r}")
    return WorkingDays(tuple(days))
