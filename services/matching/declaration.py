"""The matching service declares itself to the runtime (entry point ``mapnet.services:
matching``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import MatchingSettings

SERVICE = ServiceDeclaration(
    name="matching",
    summary="Partner search, meeting requests and the schedules of brokerage events",
    build="services.matching.entrypoints.bus:build",
    settings=MatchingSettings,
    record_fields=("meeting_id", "sme_id", "event_id"),
    # The demo's SMEs at its brokerage events: built on the registry's SMEs and profiles and on
    # the calendar's events (loaded first), before the portal's organiser is given the events.
    demo="services.matching.entrypoints.demo:load_demo",
    demo_after=("registry", "events"),
)
