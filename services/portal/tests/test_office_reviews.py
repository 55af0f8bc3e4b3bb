"""The review queue without servers (issue 31 item 13): every profile waiting is shown (the
cursors followed to the end), and only the region's staff read it or decide, before asking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from services.portal.service_layer.office import Office

REGION = "tallinn"
STAFF = Actor(id="s@t.ee", role="map_staff", region=REGION)


def waiting(n: int) -> rg.ProfileInReview:
    profile = rg.Profile(
        profile_id=f"p{n}", type="technology_offer", title=f"Offer {n:03}", summary="x",
        partnership_types=["licence"], expires_on=date(2028, 1, 1), status="in_review",
        submitted_at=datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
    )  # fmt: skip
    return rg.ProfileInReview(sme_id=f"s{n}", legal_name=f"Firm {n}", profile=profile)


class Queue:
    def __init__(self, count: int) -> None:
        self.items = [waiting(n) for n in range(count)]
        self.asked: list[Any] = []

    async def __call__(self, op: Any, data: Any, actor: Actor, /) -> Any:
        self.asked.append(data)
        if op is rg.REVIEW_PROFILE:
            return None
        start = int(data.cursor or 0)
        after = start + data.limit
        more = str(after) if after < len(self.items) else None
        return rg.ProfileReviewPage(items=self.items[start:after], next_cursor=more)


async def test_every_profile_waiting_is_shown() -> None:
    queue = Queue(230)
    shown = await Office(queue, REGION).reviews(STAFF)
    assert [r.profile.title for r in shown] == [f"Offer {n:03}" for n in range(230)]
    assert len(queue.asked) == 3


@pytest.mark.parametrize(
    "actor",
    [
        Actor(id="c@t.ee", role="sme", region=REGION, sme_id="s1"),  # not even their own
        Actor(id="o@t.ee", role="organiser", region=REGION, event_ids=["e1"]),
        Actor(id="st@t.ee", role="steering", region=REGION),
        Actor(id="s@riga.lv", role="map_staff", region="riga"),
    ],
)
async def test_only_the_regions_staff_review(actor: Actor) -> None:
    queue = Queue(3)
    with pytest.raises(Refused) as listed:
        await Office(queue, REGION).reviews(actor)
    with pytest.raises(Refused) as decided:
        await Office(queue, REGION).review("s1", "p1", True, "", actor)
    assert listed.value.code == decided.value.code == "forbidden" and queue.asked == []
