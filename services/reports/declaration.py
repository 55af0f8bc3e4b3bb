"""The reports service declares itself to the runtime (entry point ``mapnet.services: reports``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import ReportsSettings

SERVICE = ServiceDeclaration(
    name="reports",
    summary="The SMEs' feedback, the network's monthly figures, monitoring and cluster reports",
    build="services.reports.entrypoints.bus:build",
    settings=ReportsSettings,
)
