"""The portal: MAP staff, SMEs, organisers and partners use MAPnet in a browser."""

from __future__ import annotations

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import PortalSettings

SERVICE = ServiceDeclaration(
    name="portal",
    summary="The web portal: sign-in, the registry, the calendar, unsubscribe links",
    build="services.portal.entrypoints.web:build",
    settings=PortalSettings,
    cli="services.portal.entrypoints.cli:app",
    cli_name="user",
    demo="services.portal.entrypoints.demo:load_demo",
    demo_after=("registry",),
)
