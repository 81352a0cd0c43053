"""Planning send times: spread over a window, inside each recipient's business hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.send_window import BusinessHours, plan, zone_of

START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # a Friday
WEEKDAYS = BusinessHours(days=frozenset(range(5)), start=time(9), end=time(17))


def test_one_send_per_slot_in_random_order():
    times = plan(100, START, timedelta(minutes=100), rng=random.Random(1))
    assert len(times) == 100
    assert all(START <= t < START + timedelta(minutes=100) for t in times)
    # Exactly one per one-minute slot: evenly spread, no bunching.
    assert sorted(int((t - START).total_seconds() // 60) for t in times) == list(range(100))
    assert times != sorted(times)


def test_no_window_means_all_at_the_start():
    assert plan(3, START, timedelta(0)) == [START] * 3
    assert plan(0, START, timedelta(hours=1)) == []


def test_inside_business_hours_stays_put():
    paris = ZoneInfo("Europe/Paris")
    moment = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 11:00 in Paris, Friday
    assert WEEKDAYS.next_slot(moment, paris, random.Random(1)) == moment


@pytest.mark.parametrize(
    ("moment", "zone", "expected_day"),
    [
        # Friday 20:00 in Tokyo (11:00 UTC): closed until Monday.
        (datetime(2026, 11, 27, 11, 0, tzinfo=UTC), "Asia/Tokyo", 0),
        # Friday 03:00 in New York (08:00 UTC): later the same day.
        (datetime(2026, 11, 27, 8, 0, tzinfo=UTC), "America/New_York", 4),
        # Saturday noon in Paris: Monday.
        (datetime(2026, 11, 28, 11, 0, tzinfo=UTC), "Europe/Paris", 0),
    ],
)
def test_outside_business_hours_moves_into_the_next_opening(moment, zone, expected_day):
    tz = ZoneInfo(zone)
    for seed in range(20):
        slot = WEEKDAYS.next_slot(moment, tz, random.Random(seed))
        local = slot.astimezone(tz)
        assert slot > moment
        assert local.weekday() == expected_day
        assert time(9) <= local.time() < time(17)
        assert slot.tzinfo is UTC


def test_moved_sends_spread_over_the_day_not_bunched_at_opening():
    tz = ZoneInfo("Europe/Paris")
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    hours = {
        WEEKDAYS.next_slot(saturday, tz, random.Random(s)).astimezone(tz).hour for s in range(50)
    }
    assert len(hours) >= 5


def test_unknown_timezone_falls_back():
    assert zone_of("Mars/Olympus_Mons", "Europe/Paris") == ZoneInfo("Europe/Paris")
    assert zone_of(None) == ZoneInfo("UTC")


def test_from_stored_form():
    hours = BusinessHours.from_dict({"days": [0, 2], "start": "08:30", "end": "12:00"})
    assert hours == BusinessHours(days=frozenset({0, 2}), start=time(8, 30), end=time(12))
