"""The registry declares itself to the runtime (entry point ``mapnet.services: registry``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import RegistrySettings

SERVICE = ServiceDeclaration(
    name="registry",
    summary="The SME registry: SMEs, contacts, cooperation profiles, coaching, success stories",
    build="services.registry.entrypoints.bus:build",
    settings=RegistrySettings,
    cli="services.registry.entrypoints.cli:app",
    demo="services.registry.entrypoints.cli:load_demo",
    record_fields=("sme_id",),
)
