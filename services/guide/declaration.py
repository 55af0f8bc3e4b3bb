"""The guide service declares itself to the runtime (entry point ``mapnet.services: guide``)."""

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import GuideSettings

SERVICE = ServiceDeclaration(
    name="guide",
    summary="The Market Access Guide per market and topic, market facts, and the finance link",
    build="services.guide.entrypoints.bus:build",
    settings=GuideSettings,
    demo="services.guide.entrypoints.demo:load_demo",
    # The finance demo gives the registry's first demo SME a need.
    demo_after=("registry",),
    record_fields=("article_id", "note_id", "offer_id"),
    # The finance link weighs an SME's size, growth, stage and country as its registry says;
    # its demo finds the registry's first demo SME to give it a finance need.
    asks=("registry.query.get_sme", "registry.query.search_smes"),
)
