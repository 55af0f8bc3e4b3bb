"""Each person's pages in their language (issue 31 item 6), without servers: which language a
request is written in, a person's choice kept with their account, and two people served at once
in two languages by one process."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send
from structlog.testing import capture_logs

from contracts.errors import Refused
from services.portal.adapters import passwords
from services.portal.domain.users import User, with_language
from services.portal.entrypoints import i18n
from services.portal.entrypoints.web import (
    LANGUAGE_CHOSEN_BY,
    InTheirLanguage,
    Portal,
    create_app,
    varying,
)
from services.portal.service_layer.accounts import Accounts
from services.portal.settings import PortalSettings
from services.portal.tests.test_routes import PASSWORD, MemoryStore, csrf_of

TEMPLATES = Path(i18n.__file__).resolve().parent.parent / "templates"
# A few of the portal's texts in German: enough to see a page written in it (the repository
# ships no partial translation; a test writes this one where it runs).
GERMAN = {
    "Your account": "Ihr Konto",
    "Sign in": "Anmelden",
    "Calendar": "Kalender",
    "Saved.": "Gespeichert.",
    "Language of the pages": "Sprache der Seiten",
    "Save": "Speichern",
    "choose one of the languages offered": "wählen Sie eine der angebotenen Sprachen",
}


def german_catalogue(directory: Path) -> Path:
    """A locale directory holding a small German catalogue: the directory."""
    po = directory / "de" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    entries = "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in GERMAN.items())
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n' + entries,
                  encoding="utf-8")  # fmt: skip
    return directory


@pytest.fixture
def languages(tmp_path: Path) -> i18n.Languages:
    return i18n.Languages(german_catalogue(tmp_path), region_language="en")


def test_the_portal_offers_english_and_each_catalogue_named_in_itself(
    languages: i18n.Languages, tmp_path: Path
) -> None:
    assert languages.choices() == [("en", "English"), ("de", "Deutsch")]
    (tmp_path / "not a language" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "not a language" / "LC_MESSAGES" / "messages.po").write_text("")
    assert [code for code, _ in i18n.Languages(tmp_path).choices()] == ["en", "de"]
    # The region's own language without a catalogue: English, text, dates and lang alike.
    assert i18n.Languages(tmp_path, region_language="fi").region.code == "en"
    assert i18n.Languages(tmp_path, region_language="de").region.code == "de"


def test_a_request_is_in_the_persons_choice_else_the_browsers_else_the_regions(
    languages: i18n.Languages, tmp_path: Path
) -> None:
    def written(chosen: str | None, header: str | None) -> str:
        return languages.for_request(chosen, header).code

    assert written("de", "en-GB,en;q=0.9") == "de"  # the person's choice first
    assert written(None, "fi-FI,fi;q=0.9,de;q=0.8,en;q=0.7") == "de"  # the best one offered
    assert written(None, "de-AT") == "de"  # a region's variant is served by its language
    assert written(None, "en;q=0.5,de;q=0.9") == "de"  # by weight, not by order
    assert written(None, "fi") == "en" and written(None, None) == "en"  # else the region's
    assert written(None, "*") == "en"  # any language: the region's
    in_german = i18n.Languages(tmp_path, region_language="de")
    assert in_german.for_request(None, "*").code == "de"
    assert in_german.for_request(None, "sv").code == "de"
    assert written("xx", None) == "en"  # a choice whose catalogue has gone: as if none


@pytest.mark.parametrize(
    "header",
    [
        "de;q=" + "9" * 100_000,
        "x" * 1_000_000,
        "de-" + "-".join(["AT"] * 50_000),
        ",".join(f"l{i};q=0.{i % 10}" for i in range(20_000)),
        ";;;,,,=q=,\x00\x7f\ufffd;q=abc",
        "de;q=nan, en;q=inf, fi;q=-1, de;q=1e999",
        "ÿ" * 10_000,
    ],
)
def test_a_hostile_accept_language_is_read_as_none_and_at_once(
    languages: i18n.Languages, header: str
) -> None:
    started = time.perf_counter()
    assert languages.for_request(None, header).code in ("en", "de")
    assert time.perf_counter() - started < 0.05  # read 256 characters far, never the whole


async def test_two_requests_at_once_are_each_written_in_their_own_language(
    languages: i18n.Languages,
) -> None:
    german, english = languages.named("de"), languages.named("en")
    assert german is not None and english is not None
    env = i18n.environment(TEMPLATES)
    page = env.from_string(
        '<html lang="{{ page_language }}">{% trans %}Calendar{% endtrans %} '
        '{{ day|when("%d %B %Y") }} {{ 1234567.5|number }}'
    )

    async def request(language: i18n.Language) -> list[str]:
        i18n.speak(language)  # as the middleware does, in the request's own task
        seen = []
        for _ in range(20):
            seen.append(page.render(day=datetime(2027, 3, 9, tzinfo=UTC),
                                    **i18n.current().page_values()))  # fmt: skip
            seen.append(i18n.tr("Your account"))
            await asyncio.sleep(0)  # the other request runs in between
        return seen

    in_german, in_english = await asyncio.gather(request(german), request(english))
    assert set(in_german) == {'<html lang="de">Kalender 9. März 2027 1.234.567,5', "Ihr Konto"}
    assert set(in_english) == {'<html lang="en">Calendar 9 March 2027 1,234,567.5', "Your account"}
    assert i18n.current().code == "en"  # outside any request: English


async def test_a_person_chooses_a_language_offered_and_keeps_it() -> None:
    store = MemoryStore()
    accounts = Accounts(store, passwords.hashed, passwords.verified, 1.0)
    mari = await accounts.add_user("mari@t.ee", "sme", "tallinn", PASSWORD, sme_id="s1")
    admin = await accounts.add_user("admin@t.ee", "map_admin", "tallinn", PASSWORD)
    _, session = await accounts.sign_in("mari@t.ee", PASSWORD, "10.0.0.1")
    assert (await accounts.signed_in(session.token)) is not None  # kept in memory a moment

    chosen = await accounts.choose_language(mari, "de", ["en", "de"])
    assert chosen.language == "de" and store.users["mari@t.ee"].language == "de"
    found = await accounts.signed_in(session.token)  # the next page, at once: in German
    assert found is not None and found[0].language == "de"

    with pytest.raises(Refused) as refused:
        await accounts.choose_language(mari, "klingon", ["en", "de"])
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "language"
    assert store.users["mari@t.ee"].language == "de"  # unchanged

    # A new role or password keeps the language.
    await accounts.change_role(admin, "mari@t.ee", "sme", "s2")
    assert store.users["mari@t.ee"].language == "de"
    token, _ = await accounts.forgot("mari@t.ee") or ("", None)
    await accounts.redeem(token, "another long password")
    assert store.users["mari@t.ee"].language == "de"

    back = await accounts.choose_language(mari, "", ["en", "de"])  # as the browser asks
    assert back.language is None and store.users["mari@t.ee"].language is None
    gone = User.new("nobody@t.ee", "map_staff", "tallinn", "h")
    with pytest.raises(Refused) as refused:
        await accounts.choose_language(gone, "de", ["en", "de"])
    assert refused.value.code == "not_found"
    assert with_language(mari, " de ", ["de"]).language == "de"


@pytest.fixture
def portal(tmp_path: Path) -> TestClient:
    accounts = Accounts(MemoryStore(), passwords.hashed, passwords.verified, 1.0)
    settings = PortalSettings.model_validate(
        {"MAPNET_PORTAL_LOCALE_DIR": german_catalogue(tmp_path)}
    )
    return TestClient(create_app(Portal("tallinn", accounts, settings)))


async def test_the_account_page_sets_the_language_of_the_persons_pages(portal: TestClient) -> None:
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    await accounts.add_user("mari@t.ee", "sme", "tallinn", PASSWORD, sme_id="s1")
    anonymous = portal.get("/signin", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in anonymous.text and "<h1>Anmelden</h1>" in anonymous.text
    for hostile in (b";;;q=abc,\x7f" * 500, b"de;q=" + b"9" * 8000, b"\xff\x00" * 4000):
        shown = portal.get("/signin", headers={"Accept-Language": hostile})
        assert shown.status_code == 200 and '<html lang="en">' in shown.text
    page = portal.get("/signin")
    signed = {"email": "mari@t.ee", "password": PASSWORD, "csrf": csrf_of(page), "next": "/"}
    portal.post("/signin", data=signed, follow_redirects=False)

    account = portal.get("/account")
    assert '<html lang="en">' in account.text and "<h1>Your account</h1>" in account.text
    assert '<option value="de" lang="de" >Deutsch</option>' in account.text
    forged = portal.post("/account", data={"language": "de", "csrf": "forged"})
    assert forged.status_code == 403
    assert '<html lang="en">' in portal.get("/account").text  # a forged post changed nothing

    bad = portal.post("/account", data={"language": "x" * 10_000, "csrf": csrf_of(account)})
    assert bad.status_code == 400 and "choose one of the languages offered" in bad.text
    saved = portal.post("/account", data={"language": "de", "csrf": csrf_of(account)})
    assert saved.status_code == 200 and '<html lang="de">' in saved.text  # this answer already
    assert "Gespeichert." in saved.text and "<h1>Ihr Konto</h1>" in saved.text
    assert "1.234.567,5" in saved.text
    again = portal.get("/account", headers={"Accept-Language": "en"})  # her choice first
    assert '<html lang="de">' in again.text and 'value="de" lang="de" selected' in again.text
    bad = portal.post("/account", data={"language": "klingon", "csrf": csrf_of(account)})
    assert bad.status_code == 400 and "wählen Sie eine der angebotenen Sprachen" in bad.text


def test_the_guides_markets_are_named_in_the_requests_language(
    languages: i18n.Languages, portal: TestClient
) -> None:
    from services.portal.entrypoints.guide_pages import guide_of

    guide = guide_of(portal.app.state.portal)  # type: ignore[attr-defined]
    german = languages.named("de")
    assert german is not None
    with i18n.speaking(german):
        assert guide.market("DE").name == "Deutschland"
        assert "Estland" in [m.name for m in guide.network_markets()]
    assert guide.market("DE").name == "Germany"


def test_a_page_says_its_language_and_that_it_differs_by_the_persons(
    portal: TestClient, languages: i18n.Languages
) -> None:
    """A page's language is chosen by the session's cookie and Accept-Language: the response
    says which it is (Content-Language) and that a shared cache must keep one per those
    (Vary), adding to a Vary the page set itself."""
    german = portal.get("/signin", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert german.headers["Content-Language"] == "de"
    assert german.headers["Vary"] == "Accept-Language, Cookie"
    assert portal.get("/signin").headers["Content-Language"] == "en"

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        vary = {"Vary": "Accept-Encoding, cookie"}
        await PlainTextResponse(i18n.current().code, headers=vary)(scope, receive, send)

    class Chooses:
        def __init__(self) -> None:
            self.languages = languages

        async def language_of(self, request: Request) -> i18n.Language:
            return languages.for_request(None, request.headers.get("accept-language"))

    wrapped = TestClient(InTheirLanguage(page, portal=Chooses()))  # type: ignore[arg-type]
    shown = wrapped.get("/x", headers={"Accept-Language": "de"})
    assert shown.text == "de" and shown.headers["Content-Language"] == "de"
    assert shown.headers["Vary"] == "Accept-Encoding, cookie, Accept-Language"
    api = wrapped.get("/api/x", headers={"Accept-Language": "de"})  # the region's, always
    assert api.headers["Content-Language"] == "en" and "Accept-Language" not in api.headers["Vary"]
    assert varying("*", LANGUAGE_CHOSEN_BY) == "*"


def test_a_broken_translation_is_read_in_english_and_logged_once(tmp_path: Path) -> None:
    """A translator's slip (a placeholder the English text has not, a stray %) would make the
    pages that show the message fail: the catalogue drops such a message when it is read, with
    one warning naming it, and the message is written in English; the rest stays German."""
    german_catalogue(tmp_path)
    po = tmp_path / "de" / "LC_MESSAGES" / "messages.po"
    broken = {
        "MAPnet %(region)s": "MAPnet %(regin)s",  # every page's heading (base.html)
        "check: %(names)s": "prüfen: %(names)s zu 100 %",  # tr's
    }
    po.write_text(po.read_text(encoding="utf-8") + "".join(
        f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in broken.items()), encoding="utf-8")  # fmt: skip
    with capture_logs() as logged:
        languages = i18n.Languages(tmp_path)
    dropped = [e for e in logged if e["event"] == "catalogue_message_dropped"]
    assert sorted(e["msgid"] for e in dropped) == sorted(broken)
    assert all(e["log_level"] == "warning" and e["language"] == "de" for e in dropped)
    german = languages.named("de")
    assert german is not None
    with i18n.speaking(german):
        assert i18n.tr("check: %(names)s", names="email") == "check: email"
        assert i18n.tr("Your account") == "Ihr Konto"
    # A page showing the message: written, in German, with that heading in English.
    accounts = Accounts(MemoryStore(), passwords.hashed, passwords.verified, 1.0)
    settings = PortalSettings.model_validate({"MAPNET_PORTAL_LOCALE_DIR": tmp_path})
    portal = TestClient(create_app(Portal("tallinn", accounts, settings)))
    page = portal.get("/signin", headers={"Accept-Language": "de"})
    assert page.status_code == 200 and "<h1>Anmelden</h1>" in page.text
    assert "MAPnet Tallinn" in page.text
