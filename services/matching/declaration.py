"""The matching service declares itself to the runtime (entry point ``mapnet.services:
matching``)."""

from mapnet.runtime.declaration import ServiceDeclaration

SERVICE = ServiceDeclaration(
    name="matching",
    summary="Partner search, meeting requests and the schedules of brokerage events",
    build="services.matching.entrypoints.bus:build",
    record_fields=("meeting_id", "sme_id", "event_id"),
)
