"""A survey mail reaches an SME's contacts through the registry's directory, not through a
registration: an erasure of the contact, or of the SME, must still find them. Notify forgets
them as forget_person does (their address out of the delivery log, their preferences gone, a
hash kept so that nothing mails them again), and a mail whose contacts were read before the
erasure and queued after it is not queued."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import notify as nt
from contracts import registry as rg
from contracts import reports as rp
from contracts.access import Actor
from contracts.common import SmeRef
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.mongo import Database
from services.notify.adapters.repository import NotifyStore
from services.notify.domain import mails
from services.notify.domain.rules import Person
from services.notify.service_layer.handlers import Notifier
from tests.helpers import eventually

from .test_mail import wait_for


def admin(region: str) -> Actor:
    return Actor(id=f"admin@{region}.example", role="map_admin", region=region)


async def register(client: BusClient, region: str, *emails: str) -> rg.SmeView:
    data = rg.RegisterSme.model_validate(
        {"legal_name": f"Survey {uuid.uuid4().hex[:6]} OÜ", "registration_number": "14000009",
         "country": "EE",
         "contacts": [{"name": e.split("@")[0].title(), "email": e, "consent_contact": True}
                      for e in emails]}
    )  # fmt: skip
    view: rg.SmeView = await client.call(rg.REGISTER_SME, data, region, actor=admin(region))
    return view


async def surveyed(
    client: BusClient, region: str, store: MailStore, sme: rg.SmeView, *emails: str
) -> None:
    """The SME reaches a stage of its coaching: reports opens a survey, notify mails it."""
    change = rg.ChangeStage(sme_id=sme.sme_id, to_stage="selected", reason="bootcamp done")
    await client.call(rg.CHANGE_STAGE, change, region, actor=admin(region))
    for email in emails:
        await wait_for(store, "survey_opened", to=email)


async def recipients(client: BusClient, region: str) -> list[str]:
    page = await client.call(
        nt.LIST_DELIVERIES, nt.ListDeliveries(channel="email", limit=100), region,
        actor=admin(region),
    )  # fmt: skip
    return sorted(d.recipient for d in page.items if d.kind == "survey_opened")


async def preferences_version(client: BusClient, region: str, email: str) -> int:
    found = await client.call(
        nt.GET_PREFERENCES, nt.GetPreferences(email=email), region, actor=admin(region)
    )
    return found.version


@pytest.mark.usefixtures("region_app")
async def test_an_erased_contact_who_got_a_survey_mail_is_forgotten_by_notify(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    sme = await register(
        client, region, "kati@survey.example", "mari@survey.example", "tiit@survey.example"
    )
    for email, chosen in (("kati@survey.example", "immediately"), ("tiit@survey.example", "never")):
        prefs = nt.SetPreferences(email=email, kinds={"survey_opened": chosen})
        await client.call(nt.SET_PREFERENCES, prefs, region, actor=admin(region))
    await surveyed(client, region, store, sme, "kati@survey.example", "mari@survey.example")
    assert await recipients(client, region) == ["kati@survey.example", "mari@survey.example"]

    # Tiit, who chose no survey mail, was never mailed: his preferences name him all the same.
    for email in ("kati@survey.example", "tiit@survey.example"):
        contact = next(p for p in sme.contacts if p.email == email)
        erase = rg.EraseContact(sme_id=sme.sme_id, contact_id=contact.id, reason="asked")
        await client.call(rg.ERASE_CONTACT, erase, region, actor=admin(region))

    # Kati's address leaves the delivery log (its digest stands in), her preferences go; Mari,
    # a contact of the same SME, is not touched.
    found = await eventually(
        lambda: recipients(client, region),
        until=lambda found: "kati@survey.example" not in found,
    )
    assert "mari@survey.example" in found and len(found) == 2
    assert rg.email_digest("kati@survey.example") in found
    assert await preferences_version(client, region, "kati@survey.example") == 0
    await eventually(
        lambda: preferences_version(client, region, "tiit@survey.example"),
        until=lambda version: version == 0,
    )


@pytest.mark.usefixtures("region_app")
async def test_an_erased_sme_takes_its_surveyed_contacts_out_of_notify(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    sme = await register(client, region, "olev@erased.example")
    await surveyed(client, region, store, sme, "olev@erased.example")
    erase = rg.EraseSme(sme_id=sme.sme_id, reason="asked")
    await client.call(rg.ERASE_SME, erase, region, actor=admin(region))
    await eventually(
        lambda: recipients(client, region),
        until=lambda found: found == [rg.email_digest("olev@erased.example")],
    )


# --- the race: contacts read before the erasure, the mail queued after it ---------------------


async def test_a_survey_mail_to_a_contact_erased_meanwhile_is_not_queued(db: Database) -> None:
    store = NotifyStore(db)
    queued: list[dict[str, Any]] = []

    async def admit(docs: list[dict[str, Any]]) -> None:
        queued.extend(docs)

    notifier = Notifier("tallinn", store, sender="map@example.ee", public_url="https://p.example",
                        secret="s" * 32, admit=admit)  # fmt: skip
    sme = SmeRef(region="tallinn", sme_id="sme-1")
    now = datetime.now(UTC)
    survey = rp.SurveyOpened(
        survey_id="survey-1", region="tallinn", sme=sme,
        occasion=rp.Occasion(kind="coaching_stage", ref="selected", happened_at=now),
        opened_at=now, closes_at=now + timedelta(days=14),
    )  # fmt: skip
    event = make_envelope(rp.SURVEY_OPENED, survey, region="tallinn", source="reports")
    stale = [Person("kati@race.example", "Kati"), Person("mari@race.example", "Mari")]

    async def contacts_read_before_the_erasure(_: dict[str, Any]) -> list[Person]:
        await notifier.on_contact_erased(
            {"sme_id": "sme-1", "region": "tallinn", "contact_id": "c1",
             "email_sha256": rg.email_digest("kati@race.example")}
        )  # fmt: skip
        return stale

    await notifier.on_survey_opened(event, contacts_read_before_the_erasure)
    assert [d["recipient"] for d in queued] == ["mari@race.example"]


async def test_a_contact_erased_while_their_survey_mail_is_queued_is_forgotten(
    db: Database,
) -> None:
    store = NotifyStore(db)

    async def admit_as_the_erasure_comes(docs: list[dict[str, Any]]) -> None:
        # The erasure runs after the mail was planned and before it is in the log: it finds
        # nothing to forget yet.
        await notifier.on_contact_erased(
            {"sme_id": "sme-2", "region": "tallinn", "contact_id": "c2",
             "email_sha256": rg.email_digest("kati@late.example")}
        )  # fmt: skip
        await store.enqueue_many(docs, "sender-1", 60.0)

    notifier = Notifier("tallinn", store, sender="map@example.ee", public_url="https://p.example",
                        secret="s" * 32, admit=admit_as_the_erasure_comes)  # fmt: skip
    now = datetime.now(UTC)
    survey = rp.SurveyOpened(
        survey_id="survey-2", region="tallinn", sme=SmeRef(region="tallinn", sme_id="sme-2"),
        occasion=rp.Occasion(kind="coaching_stage", ref="trained", happened_at=now),
        opened_at=now, closes_at=now + timedelta(days=14),
    )  # fmt: skip
    event = make_envelope(rp.SURVEY_OPENED, survey, region="tallinn", source="reports")

    async def kati(_: dict[str, Any]) -> list[Person]:
        return [Person("kati@late.example", "Kati")]

    await notifier.on_survey_opened(event, kati)
    [doc] = [d async for d in db["deliveries"].find({})]
    assert doc["recipient"] == rg.email_digest("kati@late.example")
    assert doc["status"] == "failed" and doc["message"] is None


async def test_a_line_held_for_the_digest_quoting_an_erased_sme_goes_with_it(
    db: Database,
) -> None:
    """A person who takes meeting mail in the weekly digest has a line held for it that names
    the other SME's person; the other SME's erasure takes the line out, as it does the mail."""
    store = NotifyStore(db)

    async def admit(docs: list[dict[str, Any]]) -> None:
        await store.enqueue_many(docs, "sender-1", 60.0)

    notifier = Notifier("tallinn", store, sender="map@example.ee", public_url="https://p.example",
                        secret="s" * 32, admit=admit)  # fmt: skip
    prefs = nt.SetPreferences(email="mari@digest.example", kinds={"meeting_requested": "digest"})
    await notifier._save_preferences(prefs)
    mail = mails.meeting_mail("meeting_requested", Person("mari@digest.example", "Mari"),
                              mails.described(None), "Kati Erased", "")  # fmt: skip
    mail.about = ("tallinn:sme-gone",)
    await notifier.queue_mail(mail, mails.DateCause("meeting-1"))
    assert [i["text"] for i in await store.held_for("mari@digest.example")] == [
        "meeting requested: Kati Erased"
    ]
    await notifier.on_sme_erased({"sme_id": "sme-gone", "region": "tallinn"})
    assert await store.held_for("mari@digest.example") == []
