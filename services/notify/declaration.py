"""The notify service declares itself to the runtime (entry point ``mapnet.services: notify``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import NotifySettings

SERVICE = ServiceDeclaration(
    name="notify",
    summary="Mail to people and signed webhooks to partner systems",
    build="services.notify.entrypoints.bus:build",
    settings=NotifySettings,
    record_fields=("subscription_id",),
    # Who a mail goes to and what it says: the event, its registrations, a meeting, an SME.
    asks=(
        "events.query.get_event",
        "events.query.get_registrations",
        "matching.query.get_meeting",
        "matching.query.get_schedule",
        "registry.query.get_sme",
    ),
)
