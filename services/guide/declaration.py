"""The guide service declares itself to the runtime (entry point ``mapnet.services: guide``)."""

from mapnet.runtime.declaration import ServiceDeclaration

SERVICE = ServiceDeclaration(
    name="guide",
    summary="The Market Access Guide per market and topic, market facts, and the finance link",
    build="services.guide.entrypoints.bus:build",
)
