"""The events service declares itself to the runtime (entry point ``mapnet.services: events``)."""

from mapnet.runtime.declaration import ServiceDeclaration

SERVICE = ServiceDeclaration(
    name="events",
    summary="The joint marketing calendar, brokerage events, training courses, registrations",
    build="services.events.entrypoints.bus:build",
    cli="services.events.entrypoints.cli:app",
    demo="services.events.entrypoints.cli:load_demo",
    record_fields=("registration_id", "event_id"),
)
