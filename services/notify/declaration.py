"""The notify service declares itself to the runtime (entry point ``mapnet.services: notify``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import NotifySettings

SERVICE = ServiceDeclaration(
    name="notify",
    summary="Mail to people and signed webhooks to partner systems",
    build="services.notify.entrypoints.bus:build",
    settings=NotifySettings,
    record_fields=("subscription_id",),
)
