"""A finance partner is a user of the region's finance partners' account: the server's stamp of
that account is what makes its requests a finance partner's (actor.partner_kind), never what a
request says. Here, what `mapnet partner add --kind finance` writes; on real servers, in
test_finance_bus.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import finance as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.federation.accounts import FINANCE_PARTNERS_FILE, PARTNERS_FILE, accounts_block
from mapnet.ops.partners import PartnerBook, PartnerError
from mapnet.runtime.access import (
    FINANCE_PARTNERS_ACCOUNT,
    acting,
    stamped_partner,
    stamped_partner_kind,
)
from mapnet.runtime.codec import make_envelope
from services.guide.domain.finance import check_publisher


def test_a_finance_partner_is_a_user_of_the_finance_partners_account(tmp_path: Path) -> None:
    book = PartnerBook(tmp_path)
    bank = book.add("nordbank", "finance")
    park = book.add("sciencepark")
    assert (bank.kind, park.kind) == ("finance", "general")
    finance_users = (tmp_path / FINANCE_PARTNERS_FILE).read_text()
    general_users = (tmp_path / PARTNERS_FILE).read_text()
    assert '"nordbank"' in finance_users and '"nordbank"' not in general_users
    assert '"sciencepark"' in general_users and '"sciencepark"' not in finance_users
    assert (tmp_path / FINANCE_PARTNERS_FILE).stat().st_mode & 0o777 == 0o600
    assert book.list()["nordbank"]["kind"] == "finance"
    book.remove("nordbank")
    assert '"nordbank"' not in (tmp_path / FINANCE_PARTNERS_FILE).read_text()


def test_a_partner_of_no_known_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PartnerError, match="kind"):
        PartnerBook(tmp_path).add("lender", "bank")  # type: ignore[arg-type]


def test_the_finance_account_imports_what_partners_may_send() -> None:
    block = accounts_block("tallinn")
    finance = block[block.index(f"{FINANCE_PARTNERS_ACCOUNT}: {{") :]
    assert f'include "{FINANCE_PARTNERS_FILE}"' in finance
    assert "mapnet.tallinn.guide.cmd.publish_finance_offer" in finance
    assert "mapnet.tallinn.events.cmd.publish_event" in finance


def test_the_kind_is_the_stamped_account() -> None:
    def stamp(account: str) -> dict[str, str]:
        return {"Nats-Request-Info": f'{{"acc": "{account}", "user": "nordbank"}}'}

    assert stamped_partner(stamp(FINANCE_PARTNERS_ACCOUNT)) == "nordbank"
    assert stamped_partner_kind(stamp(FINANCE_PARTNERS_ACCOUNT)) == "finance"
    assert stamped_partner_kind(stamp("PARTNERS")) == "general"
    assert stamped_partner_kind(stamp("MAPNET")) is None


def test_an_envelopes_claim_of_a_kind_is_never_believed() -> None:
    """The runtime takes a partner's kind from the stamp alone: a general partner claiming to be
    a finance partner is handled as the general partner it is, and anyone else's claim of a
    kind is dropped (only a stamped partner has one)."""
    op = c.PUBLISH_FINANCE_OFFER
    offer = c.PublishFinanceOffer.model_validate(
        {"partner_id": "park", "external_id": "1", "kind": "loan", "title": "A loan",
         "provider": "Example Bank (test)", "markets": ["EE"], "amount_min": "1",
         "amount_max": "2"}
    )  # fmt: skip
    claims = Actor(id="park", role="partner", region="tallinn", partner_kind="finance")
    msg = make_envelope(op, offer, region="tallinn", source="t", actor=claims)
    general = {"Nats-Request-Info": '{"acc": "PARTNERS", "user": "park"}'}
    handled = acting(op, msg, general, "tallinn")
    assert handled.actor is not None and handled.actor.partner_kind == "general"
    with pytest.raises(Refused) as refused:
        check_publisher(handled.actor, "park", "tallinn")
    assert refused.value.details["partner_kind"] == "general"
    staff = Actor(
        id="s@tallinn.example", role="map_staff", region="tallinn", partner_kind="finance"
    )
    msg = make_envelope(op, offer, region="tallinn", source="t", actor=staff)
    handled = acting(op, msg, {}, "tallinn")
    assert handled.actor is not None and handled.actor.partner_kind is None
