"""An invented but realistic joint calendar for the coming months: technology events across the
Baltic Sea capitals that a region's MAP promotes, one brokerage event and one training course."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CITIES = {
    "Tallinn": ("EE", "Europe/Tallinn"),
    "Helsinki": ("FI", "Europe/Helsinki"),
    "Stockholm": ("SE", "Europe/Stockholm"),
    "Berlin": ("DE", "Europe/Berlin"),
    "Riga": ("LV", "Europe/Riga"),
    "Vilnius": ("LT", "Europe/Vilnius"),
    "Warsaw": ("PL", "Europe/Warsaw"),
    "Copenhagen": ("DK", "Europe/Copenhagen"),
    "Oslo": ("NO", "Europe/Oslo"),
}

# (days from today, length in days, kind, title, city, clusters, topics); the last two were held
# already, this year (the region's indicators count them). New entries go last: an entry's place
# is its external id.
PROGRAMME: list[tuple[int, int, str, str, str, list[str], list[str]]] = [
    (9, 2, "conference", "Baltic Photonics Days", "Tallinn", ["photonics"], ["lasers", "optics"]),
    (
        16,
        1,
        "cluster_workshop",
        "Life Science Matchmaking Workshop",
        "Riga",
        ["life-sciences"],
        ["diagnostics", "biotech"],
    ),
    (
        23,
        1,
        "webinar",
        "Selling SaaS to Nordic Public Buyers",
        "Stockholm",
        ["ict"],
        ["public procurement", "saas"],
    ),
    (
        30,
        3,
        "trade_fair",
        "Nordic Cleantech Fair",
        "Copenhagen",
        ["cleantech"],
        ["energy", "water"],
    ),
    (
        37,
        2,
        "conference",
        "Digital Health Summit",
        "Helsinki",
        ["life-sciences", "ict"],
        ["e-health", "data platforms"],
    ),
    (
        44,
        1,
        "road_show",
        "Gazelles on Tour: Berlin",
        "Berlin",
        ["ict", "photonics"],
        ["internationalisation"],
    ),
    (
        51,
        2,
        "exhibition",
        "Smart City Expo Baltics",
        "Vilnius",
        ["ict", "cleantech"],
        ["smart city", "iot"],
    ),
    (
        65,
        3,
        "trade_fair",
        "Laser & Optics Trade Fair",
        "Berlin",
        ["photonics"],
        ["lasers", "sensors"],
    ),
    (
        79,
        1,
        "cluster_workshop",
        "Cyber Security Cluster Meet-up",
        "Warsaw",
        ["ict"],
        ["cyber security"],
    ),
    (93, 2, "conference", "Ocean Tech Forum", "Oslo", ["cleantech"], ["maritime", "energy"]),
    (107, 1, "webinar", "Protecting IP Before You Export", "Tallinn", [], ["ipr", "export"]),
    (
        -70,
        1,
        "cluster_workshop",
        "ICT Cluster Workshop: Selling to Public Buyers",
        "Tallinn",
        ["ict"],
        ["public procurement"],
    ),
    (
        -40,
        1,
        "road_show",
        "Gazelles on Tour: Helsinki",
        "Helsinki",
        ["ict", "life-sciences"],
        ["internationalisation"],
    ),
]


def _local(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour)).isoformat()


def _entry(
    region: str,
    n: int,
    day: date,
    days: int,
    kind: str,
    title: str,
    city: str,
    clusters: list[str],
    topics: list[str],
) -> dict[str, Any]:
    country, tz = CITIES[city]
    return {
        "partner_id": f"{region}-map",
        "external_id": f"demo-{n}",
        "kind": kind,
        "title": title,
        "description": f"{title}: meet companies, clusters and investors from around the "
        "Baltic Sea. Promoted by the Market Access Point network.",
        "starts_at": _local(day, 9),
        "ends_at": _local(day + timedelta(days=days - 1), 17),
        "timezone": tz,
        "venue": f"{city} Congress Centre" if kind != "webinar" else "",
        "city": city if kind != "webinar" else "",
        "country": country,
        "online_url": "https://meet.example.org/mapnet" if kind == "webinar" else None,
        "clusters": clusters,
        "topics": topics,
        "organiser": f"{city} Science Park",
        "language": "en",
        "visibility": "network",
    }


def demo_calendar(region: str, today: date | None = None) -> list[dict[str, Any]]:
    today = today or datetime.now(UTC).date()
    entries = [
        _entry(region, n, _day(today, offset), days, kind, title, city, clusters, topics)
        for n, (offset, days, kind, title, city, clusters, topics) in enumerate(PROGRAMME, start=1)
    ]
    return [
        *entries,
        _brokerage_event(region, today),
        _training_course(region, today),
        _second_brokerage_event(region, today),
        _held_course(region, today),
    ]


def _day(today: date, offset: int) -> date:
    """Past entries stay in this year, where the year's indicators count them."""
    day = today + timedelta(days=offset)
    return max(day, date(today.year, 1, 1)) if offset < 0 else day


def _held_course(region: str, today: date) -> dict[str, Any]:
    """A course held this year (its sessions are over), counted in the year's indicators."""
    day = _day(today, -55)
    tallinn = ZoneInfo("Europe/Tallinn")
    entry = _entry(region, 201, day, 3, "training_course", "Export Readiness Course",
                   "Tallinn", [], ["export", "internationalisation"])  # fmt: skip
    sessions = [datetime.combine(day + timedelta(days=d), time(9), tallinn) for d in (0, 1, 2)]
    return entry | {
        "course": {
            "capacity": 20,
            "sessions": [s.isoformat() for s in sessions],
            "completion_min_sessions": 2,
        },
    }


def _second_brokerage_event(region: str, today: date) -> dict[str, Any]:
    """A brokerage event further ahead, with participants and requests but no schedule yet
    (the demo's matching part): the organiser's to run."""
    day = today + timedelta(days=100)
    deadline = datetime.combine(day - timedelta(days=5), time(23, 59), ZoneInfo("Europe/Tallinn"))
    entry = _entry(region, 101, day, 1, "brokerage_event", "Life Science & ICT Partnering Day",
                   "Tallinn", ["life-sciences", "ict"], ["partnering", "e-health"])  # fmt: skip
    return entry | {
        "capacity": 120,
        "brokerage": {
            "days": [day.isoformat()],
            "day_start": "10:00",
            "slots_per_day": 12,
            "slot_minutes": 25,
            "breaks_after_slot": [5],
            "tables": 30,
            "registration_deadline": deadline.isoformat(),
            "participation_types": ["on_site", "remote"],
            "max_meetings_per_participant": 8,
            "max_requests_per_participant": 15,
        },
    }


def _brokerage_event(region: str, today: date) -> dict[str, Any]:
    day = today + timedelta(days=58)
    deadline = datetime.combine(day - timedelta(days=7), time(23, 59), ZoneInfo("Europe/Helsinki"))
    clusters = ["ict", "life-sciences", "cleantech", "photonics"]
    entry = _entry(region, 100, day, 2, "brokerage_event", "Baltic Sea Brokerage Days",
                   "Helsinki", clusters, ["partnering"])  # fmt: skip
    return entry | {
        "capacity": 500,
        "brokerage": {
            "days": [day.isoformat(), (day + timedelta(days=1)).isoformat()],
            "day_start": "09:00",
            "slots_per_day": 16,
            "slot_minutes": 20,
            "breaks_after_slot": [6],
            "tables": 100,
            "registration_deadline": deadline.isoformat(),
            "participation_types": ["on_site", "remote"],
            "max_meetings_per_participant": 12,
            "max_requests_per_participant": 20,
        },
    }


def _training_course(region: str, today: date) -> dict[str, Any]:
    day = today + timedelta(days=21)
    tallinn = ZoneInfo("Europe/Tallinn")
    topics = ["internationalisation", "export", "investor readiness"]
    entry = _entry(region, 200, day, 8, "training_course",
                   "Gazelle Internationalisation Bootcamp", "Tallinn", [], topics)  # fmt: skip
    sessions = [datetime.combine(day + timedelta(days=d), time(9), tallinn) for d in (0, 2, 5, 7)]
    return entry | {
        "course": {
            "capacity": 24,
            "sessions": [s.isoformat() for s in sessions],
            "completion_min_sessions": 3,
        },
    }
