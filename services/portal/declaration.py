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
    # What people do through its pages, each as themselves (the envelope's actor).
    asks=(
        "events.cmd.publish_event",
        "events.cmd.register_participant",
        "events.query.get_event",
        "events.query.get_ical",
        "events.query.list_calendar",
        "events.query.list_registrations",
        "matching.cmd.cancel_meeting",
        "matching.cmd.lock_meeting",
        "matching.cmd.record_meeting_outcome",
        "matching.cmd.request_meeting",
        "matching.cmd.respond_meeting",
        "matching.cmd.schedule_event",
        "matching.cmd.set_availability",
        "matching.query.find_partners",
        "matching.query.get_availability",
        "matching.query.get_meeting_kpis",
        "matching.query.get_schedule",
        "matching.query.list_meetings",
        "notify.cmd.send_account_mail",
        "notify.cmd.set_preferences",
        "notify.cmd.unsubscribe",
        "notify.query.get_preferences",
        "registry.cmd.change_stage",
        "registry.cmd.draft_profile",
        "registry.cmd.publish_profile",
        "registry.cmd.publish_success_story",
        "registry.cmd.record_company_introduction",
        "registry.cmd.record_park_agreement",
        "registry.cmd.record_trade_show_presentation",
        "registry.cmd.register_sme",
        "registry.cmd.update_sme",
        "registry.cmd.withdraw_profile",
        "registry.query.get_kpis",
        "registry.query.get_sme",
        "registry.query.list_facts",
        "registry.query.search_smes",
        "reports.cmd.answer_survey",
        "reports.query.get_cluster_report",
        "reports.query.get_monitoring_report",
        "reports.query.list_open_surveys",
    ),
)
