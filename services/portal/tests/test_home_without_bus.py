"""The home page when the bus is not there (a portal started alone, or before it connects): it
still shows, and a company's contact is told their surveys cannot be shown now."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .test_routes import PASSWORD, csrf_of, portal  # noqa: F401  (the fixture)


async def _signed_in(portal: TestClient, email: str, role: str, **more: str) -> None:  # noqa: F811
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    await accounts.add_user(email, role, "tallinn", PASSWORD, **more)
    page = portal.get("/signin")
    sent = {"email": email, "password": PASSWORD, "csrf": csrf_of(page)}
    assert portal.post("/signin", data=sent, follow_redirects=False).status_code == 303


async def test_a_companys_contact_sees_the_home_page_saying_surveys_cannot_be_shown(
    portal: TestClient,  # noqa: F811
) -> None:
    await _signed_in(portal, "mari@photonforge.ee", "sme", sme_id="s1")
    home = portal.get("/")
    assert home.status_code == 200, home.text
    assert 'id="surveys-unavailable"' in home.text and "cannot be shown just now" in home.text
    assert 'href="/partners"' in home.text  # the rest of the page is there


async def test_staff_see_the_home_page_without_a_word_about_surveys(
    portal: TestClient,  # noqa: F811
) -> None:
    await _signed_in(portal, "staff@tallinn.ee", "map_staff")
    home = portal.get("/")
    assert home.status_code == 200 and 'href="/smes"' in home.text
    assert "surveys-unavailable" not in home.text  # nobody asked the reports service for them


async def test_when_the_reports_service_does_not_answer_the_home_surveys_say_so() -> None:
    """With the bus but without the reports service (the bus's refusal): the home page's part
    says the surveys cannot be shown; the survey's own page gets the refusal."""
    from typing import Any

    import pytest

    from contracts.access import Actor
    from contracts.errors import Refused
    from services.portal.service_layer.feedback import Feedback, HomeSurveys

    async def nobody(op: Any, data: Any, actor: Actor, /) -> Any:
        raise Refused("region_unavailable", f"nobody answers {op.name}")

    contact = Actor(id="mari@photonforge.ee", role="sme", region="tallinn", sme_id="s1")
    feedback = Feedback(nobody)
    assert await feedback.for_home(contact) == HomeSurveys([], unavailable=True)
    with pytest.raises(Refused):
        await feedback.survey("some-survey", contact)
    staff = Actor(id="staff@tallinn.ee", role="map_staff", region="tallinn")
    assert await feedback.for_home(staff) == HomeSurveys([], unavailable=False)
