"""Mail composition never fails on stored text, whatever it holds, and no stored text becomes a
header of its own: each template, in each of its languages, with hostile text in every field
(line breaks that would start a Bcc header, markup, emoji, very long words). No server."""

from __future__ import annotations

from email import message_from_string
from email.header import decode_header, make_header

import pytest

from services.notify.adapters.mail import TEMPLATES, compose, wire_text
from services.notify.domain import mails
from services.notify.domain.messages import participants_mail
from services.notify.domain.rules import Mail, Person

HOSTILE = "Evil\r\nBcc: victim@example.org\r\n\r\n<script>alert(1)</script> ünï 😀 " + "x" * 300
ENTRY = mails.described(
    {"event_id": "e1", "title": HOSTILE, "starts_at": "2026-12-01T10:00:00",
     "timezone": "Europe/Tallinn", "venue": HOSTILE, "city": HOSTILE, "country": "EE"}
)  # fmt: skip
MEETING = {"meeting_id": "m1", "starts_at": "2026-12-01T08:00:00+00:00",
           "ends_at": "2026-12-01T08:20:00+00:00", "table": 3}  # fmt: skip


def every_mail(language: str) -> list[Mail]:
    person = Person("mari@example.ee", HOSTILE, language)
    registration = {"email": "mari@example.ee", "person_name": HOSTILE, "language": language,
                    "position": 3}  # fmt: skip
    profile = {"_id": "p1", "title": HOSTILE, "expires_on": "2026-12-14",
               "sme": {"sme_id": "s-1", "region": "tallinn", "legal_name": HOSTILE,
                       "country": "EE"}}  # fmt: skip
    preferences = {"_id": "mari@example.ee", "name": HOSTILE, "language": language,
                   "kinds": {"weekly_digest": "immediately"}}  # fmt: skip
    row = mails.agenda_row(MEETING, ENTRY, HOSTILE)
    digest = mails.digest_mail(preferences, [HOSTILE], "2026-W49", [mails.digest_event(ENTRY)],
                               [{"title": HOSTILE, "type": "technology_offer",
                                 "country": "EE"}])  # fmt: skip
    assert digest is not None
    return [
        mails.registration_mail("registration_confirmed", registration, ENTRY),
        mails.registration_mail("registration_waitlisted", registration, ENTRY),
        mails.cancellation_mail(person, ENTRY, HOSTILE),
        *(mails.meeting_mail(kind, person, ENTRY, HOSTILE, HOSTILE)
          for kind in ("meeting_requested", "meeting_accepted", "meeting_declined")),
        mails.schedule_mail(person, ENTRY, [row], [MEETING], 2),
        mails.meeting_moved_mail(person, ENTRY, {"meeting": MEETING, "version": 2}, row, row),
        mails.reminder_mail(person, ENTRY, row),
        participants_mail(person, ENTRY, HOSTILE.replace("\n", " "), HOSTILE),
        mails.expiry_notice(profile, person)[0],
        digest,
        *(mails.account_mail({"kind": kind, "email": "mari@example.ee", "name": HOSTILE,
                              "language": language, "link": "https://mapnet.example/w/t",
                              "expires_at": "2026-12-08T10:00:00+00:00", "role": HOSTILE,
                              "region": HOSTILE}, "c1")[0]
          for kind in ("invitation", "password_reset")),
        *mails.review_due_mails({"author": "mari@example.ee", "title": HOSTILE, "market": "EE",
                                 "topic": "tax_vat", "version": 2, "review_by": "2026-12-20",
                                 "article_id": "a1", "written_by": [HOSTILE]}),
        mails.survey_mail({"occasion": {"kind": "coaching_stage", "ref": HOSTILE},
                           "closes_at": "2027-02-01T00:00:00+00:00", "survey_id": "s1",
                           "sme": {"sme_id": "s-1", "region": "tallinn"}},
                          person, "https://mapnet.example"),
    ]  # fmt: skip


@pytest.mark.parametrize("language", ["en", "et"])
def test_every_template_composes_hostile_text_without_a_header_of_its_own(language: str) -> None:
    kinds = set()
    for mail in every_mail(language):
        kinds.add(mail.kind)
        wire = wire_text(
            compose(mail, "d1", sender="MAPnet <noreply@mapnet.eu>",
                    public_url="https://mapnet.example", secret="s")
        )  # fmt: skip
        parsed = message_from_string(wire)
        assert parsed["Bcc"] is None, mail.kind
        subject = str(make_header(decode_header(parsed["Subject"])))
        assert "\n" not in subject and "\r" not in subject, mail.kind
        assert parsed["To"] == "mari@example.ee"
    every_template = {p.name.split(".")[0] for p in TEMPLATES.glob("[!_]*.j2")}
    assert kinds == every_template
