"""When each simulation email goes out: spread over a window, optionally only inside
business hours in the recipient's own timezone.

Sends are spread evenly over the window in a random order, each with a random jitter
inside its slot, so the emails do not arrive in alphabetical order or all at once (which
both gives the exercise away and trips mail filters). With business hours set, a planned
time that falls outside the recipient's local hours moves to a random moment of their next
business day — not to its first minute, which would bunch everyone at 09:00.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A business-hours rule cannot find an opening in more than a week plus a day.
_MAX_DAYS_AHEAD = 8


@dataclass(frozen=True, slots=True)
class BusinessHours:
    days: frozenset[int]  # Monday = 0 … Sunday = 6
    start: time
    end: time

    @classmethod
    def from_dict(cls, value: dict[str, object]) -> BusinessHours:
        days = value.get("days", [0, 1, 2, 3, 4])
        return cls(
            days=frozenset(int(d) for d in days),  # type: ignore[attr-defined]
            start=time.fromisoformat(str(value.get("start", "09:00"))),
            end=time.fromisoformat(str(value.get("end", "17:00"))),
        )

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_slot(self, moment: datetime, zone: ZoneInfo, rng: random.Random) -> datetime:
        """`moment` if it is inside business hours in `zone`; otherwise a random moment of
        the next business period there. Returned in UTC."""
        local = moment.astimezone(zone)
        if self.contains(local):
            return moment
        day = local.date()
        for _ in range(_MAX_DAYS_AHEAD):
            opening = datetime.combine(day, self.start, tzinfo=zone)
            closing = datetime.combine(day, self.end, tzinfo=zone)
            if day.weekday() in self.days and closing > local:
                begin = max(opening, local)
                span = (closing - begin).total_seconds()
                return (begin + timedelta(seconds=rng.uniform(0, span))).astimezone(UTC)
            day += timedelta(days=1)
        raise ValueError("business hours never open")


def zone_of(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def plan(
    count: int,
    start: datetime,
    window: timedelta,
    *,
    rng: random.Random | None = None,
) -> list[datetime]:
    """`count` send times spread over `[start, start + window)`: one per equal slot, each at
    a random point of its slot, handed out in random order."""
    rng = rng or random.SystemRandom()
    if count == 0:
        return []
    if window <= timedelta(0):
        return [start] * count
    slot = window / count
    times = [start + slot * (i + rng.random()) for i in range(count)]
    rng.shuffle(times)
    return times
