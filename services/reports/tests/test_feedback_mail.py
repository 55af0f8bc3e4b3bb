"""The survey mail, for real: notify hears survey_opened and mails the SME's contacts who
consented to be contacted (as every mail to a company's people), once per survey and person,
with the link to the survey's page of the portal."""

from __future__ import annotations

import asyncio
import email
from email.message import Message

import pytest
from pydantic_settings import BaseSettings

from contracts import notify as nt
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import service_names
from tests.helpers import eventually

from .test_feedback_bus import contact_of, open_surveys, reach_stage, register, staff

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs(notify_settings: BaseSettings) -> dict[str, BaseSettings]:
    return {"notify": notify_settings}


def survey_mails(store: MailStore, to: str) -> list[Message]:
    found = [email.message_from_bytes(m) for m in store.kept.values()]
    return [m for m in found if m["To"] == to and "survey" in str(m["Subject"])]


@pytest.mark.parametrize(
    "region_services", [service_names()], ids=["whole region"]
)  # the mail is notify's
async def test_the_contacts_who_consented_get_the_survey_by_mail_once(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    # The first contact consents to mail, the second does not (register() decides so).
    acme = await register(client, region, "Mail Me", "kati@mail.example", "jaan@mail.example")
    await reach_stage(client, acme, "selected")
    [survey] = await open_surveys(client, contact_of(acme, "kati@mail.example"))

    async def mails() -> list[Message]:
        return survey_mails(store, "kati@mail.example")

    [mail] = await eventually(mails, until=lambda found: len(found) == 1)
    body = mail.get_payload(0).get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"/surveys/{survey.survey_id}" in body
    assert survey.closes_at.date().isoformat() in body
    assert "coaching" in str(mail["Subject"])
    # Jaan, who did not consent, sees the survey on the portal only.
    jaan_surveys = await open_surveys(client, contact_of(acme, "jaan@mail.example"))
    assert [s.survey_id for s in jaan_surveys] == [survey.survey_id]
    await asyncio.sleep(1.0)
    assert survey_mails(store, "jaan@mail.example") == []
    assert len(await mails()) == 1
    sent = await client.call(
        nt.LIST_DELIVERIES, nt.ListDeliveries(), region, actor=staff(region, "map_admin")
    )
    assert [d.recipient for d in sent.items if d.kind == "survey_opened"] == ["kati@mail.example"]
