"""An erased SME is surveyed no more, against the real database: the fact of a meeting it held
told again, or late (a replay of the network's stream, a redelivery), opens no survey, while the
same fact still opens the other side's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import matching as mt
from contracts.common import SmeRef
from mapnet.runtime.mongo import Database
from services.reports.adapters.feedback_repository import FeedbackRepository
from services.reports.domain import feedback as fb

REGION = "tallinn"
WINDOW = timedelta(days=14)


async def test_a_meeting_told_again_after_the_erasure_opens_no_survey_for_the_erased(
    db: Database,
) -> None:
    store = FeedbackRepository(db)
    gone, stays = SmeRef(sme_id="gone", region=REGION), SmeRef(sme_id="stays", region=REGION)
    held = mt.MeetingHeld(meeting_id="m1", event_id="e1", region="helsinki",
                          participants=[gone, stays])  # fmt: skip
    now = datetime.now(UTC)

    async def told() -> list[bool]:
        openings = fb.meeting_held_elsewhere(held, REGION, now)
        surveys = [fb.open_survey(o, REGION, now, WINDOW) for o in openings]
        return [await store.open(s, []) for s in surveys if s is not None]

    assert await told() == [True, True]
    await store.erase_sme(gone.key)
    assert await store.surveys_of(gone.key) == []
    await db["surveys"].delete_many({"sme_key": stays.key})  # as if told the first time
    assert await told() == [False, True]  # the erased: none; the other side: again
    assert await store.surveys_of(gone.key) == []
    assert [s.sme for s in await store.surveys_of(stays.key)] == [stays]
