"""The reports service declares itself to the runtime (entry point ``mapnet.services: reports``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import ReportsSettings

SERVICE = ServiceDeclaration(
    name="reports",
    summary="The SMEs' feedback, the network's monthly figures, monitoring and cluster reports",
    build="services.reports.entrypoints.bus:build",
    settings=ReportsSettings,
    # `mapnet report monitoring …`, `mapnet report cluster …`
    cli="services.reports.entrypoints.cli:app",
    cli_name="report",
    # The demo's survey answers and monthly figures count what every other part loaded.
    demo="services.reports.entrypoints.demo:load_demo",
    demo_after=("registry", "events", "matching"),
    # A cluster report reads the cluster's SMEs and its calendar entries.
    # The monthly figures ask the registry's indicators and matching's meeting counts.
    asks=(
        "registry.query.search_smes",
        "registry.query.get_sme",
        "events.query.list_calendar",
        "registry.query.get_kpis",
        "matching.query.get_meeting_kpis",
    ),
)
