"""The network's monitoring report as PDF over a network of 10,000 SMEs, 50,000 meetings and
5,000 survey answers across three regions, asked of the reports service (in its own process) on
the bus by the steering group, as a user asks for it:

    python -m bench.report [--smes 10000] [--meetings 50000] [--answers 5000]

How the data gets there (seeded, not sent through the bus: at full size that would take hours
and measure the registry, matching and the stream copying, which have benches of their own):
the bench generates the data set over two years (SMEs along the journey, success stories and
trade show presentations by cluster and market, meetings brokered between the regions' SMEs,
survey answers with obstacles per market). The reports service's own database is then filled in
the shapes it owns, through its own repositories: each region's monthly snapshots made by the
figures domain (``figures.snapshot``) from the counts the registry's get_kpis and matching's
get_meeting_kpis would answer for this data (counted here, by month, cluster, market and
region; meetings to date) and the month's feedback summary (``feedback.summarise`` of that
region's answers): the bench region's as its own, the two others' as the copies their shared
events leave; and the bench region's surveys and answers (a third of them: answers are not
shared), which the report reads for its quotes. The registry and matching are not run.

What is timed: the steering group's get_monitoring_report (network, the last full year, PDF)
from the request to the answer: reading every region's snapshots, the region's answers, the
report, its charts and the PDF. Last line: smes=… meetings=… seconds=…"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nats

from bench.common import REGION, each, embedded_servers, figures, serving
from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor
from contracts.common import SmeRef
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.reports.adapters.feedback_repository import FeedbackRepository
from services.reports.adapters.figures_repository import FiguresRepository
from services.reports.domain import feedback as fb
from services.reports.domain import figures as fig

REGIONS = (REGION, "riga", "vilnius")
CLUSTERS = ("photonics", "ict", "life_sciences")
MARKETS = ("DE", "FI", "SE", "PL", "NO", "DK", "LT", "LV")
STAGES = ("selected", "trained", "coached", "internationalised")
STEERING = Actor(id="official@steering.example", role="steering", region=REGION)
TODAY = datetime.now(UTC).date()
YEAR = TODAY.year - 1  # the report's: the last full year; the one before it for the trends
MONTHS = [f"{y}-{m:02d}" for y in (YEAR - 1, YEAR) for m in range(1, 13)]


def _day(rng: random.Random, month: str) -> date:
    first, last = fig.month_days(month)
    return first + timedelta(days=rng.randint(0, (last - first).days))


class DataSet:
    """The network's data, counted as the registry, matching and the feedback count it."""

    def __init__(self, smes: int, meetings: int, answers: int, seed: int = 30) -> None:
        rng = random.Random(seed)
        # (region, month, cluster, market) -> KpiCounts fields
        self.kpis: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(
            lambda: defaultdict(Counter)
        )
        self.sme_cluster: list[tuple[str, str]] = []
        for _ in range(smes):
            region, cluster = rng.choice(REGIONS), rng.choice(CLUSTERS)
            self.sme_cluster.append((region, cluster))
            start = rng.randrange(len(MONTHS))
            self._count(region, MONTHS[start], cluster, None, "identified")
            for stage, later in zip(STAGES, range(start + 1, len(MONTHS)), strict=False):
                if rng.random() > 0.6:
                    break
                self._count(region, MONTHS[later], cluster, None, stage)
            if rng.random() < 0.05:
                self._count(region, rng.choice(MONTHS[start:]), cluster, None, "success_stories")
            if rng.random() < 0.05:
                month, market = rng.choice(MONTHS[start:]), rng.choice(MARKETS)
                self._count(region, month, cluster, market, "trade_show_presentations")
        for region in REGIONS:
            for month in MONTHS:
                if rng.random() < 0.3:
                    self._count(region, month, rng.choice(CLUSTERS), None, "brokerage_events")
                if rng.random() < 0.3:
                    self._count(region, month, rng.choice(CLUSTERS), None, "training_courses")
        # Meetings: month -> (region, other region, cluster) -> steps
        self.meetings: dict[str, Counter[tuple[str, str, str, str]]] = defaultdict(Counter)
        for _ in range(meetings):
            a, b = rng.choice(self.sme_cluster), rng.choice(self.sme_cluster)
            month = rng.choice(MONTHS)
            steps = ["contacts_brokered"]
            if rng.random() < 0.7:
                steps.append("meetings_held")
                if rng.random() < 0.4:
                    steps.append("cooperation_possible")
            for step in steps:  # each side's region counts it, by the other side's region
                self.meetings[month][(a[0], b[0], a[1], step)] += 1
                self.meetings[month][(b[0], a[0], b[1], step)] += 1
        # Survey answers, by region.
        self.answers: dict[str, list[c.SurveyAnswer]] = defaultdict(list)
        self.opened: dict[str, list[tuple[date, c.OccasionKind]]] = defaultdict(list)
        self.surveys: list[c.Survey] = []
        for i in range(answers):
            region = rng.choice(REGIONS)
            month = rng.choice(MONTHS)
            at = datetime.combine(_day(rng, month), datetime.min.time(), UTC) + timedelta(hours=9)
            kind: c.OccasionKind = rng.choice(c.OCCASION_KINDS)
            survey = c.Survey(
                survey_id=f"survey-{i}", region=region,
                sme=SmeRef(region=region, sme_id=f"sme-{i % max(smes, 1)}"),
                occasion=c.Occasion(kind=kind, ref=f"occasion-{i}", happened_at=at),
                opened_at=at, closes_at=at + timedelta(days=60),
            )  # fmt: skip
            markets = [
                c.MarketObstacles(
                    market=m,
                    obstacles=rng.sample(c.OBSTACLES, rng.randint(1, 3)),
                    text=f"What we met in {m}, answer {i}",
                )
                for m in rng.sample(MARKETS, rng.randint(0, 2))
            ]
            given = c.AnswerSurvey(
                survey_id=survey.survey_id, rating=rng.randint(1, 5),
                helped=f"What helped, answer {i}", markets=markets,
                may_quote=rng.random() < 0.3,
            )  # fmt: skip
            self.surveys.append(survey)
            self.opened[region].append((at.date(), kind))
            self.answers[region].append(fb.answer(survey, given, f"person-{i}", at))

    def _count(self, region: str, month: str, cluster: str, market: str | None, name: str) -> None:
        counted = self.kpis[(region, month)]
        counted["total"][name] += 1
        counted[f"cluster:{cluster}"][name] += 1
        if market:
            counted[f"market:{market}"][name] += 1

    def kpis_of(self, region: str, month: str) -> rg.Kpis:
        first, last = fig.month_days(month)
        counted = self.kpis.get((region, month), {})

        def part(prefix: str) -> dict[str, rg.KpiCounts]:
            return {
                k.removeprefix(prefix): rg.KpiCounts(**v)
                for k, v in counted.items()
                if k.startswith(prefix)
            }

        return rg.Kpis(
            region=region, period_from=first, period_to=last,
            total=rg.KpiCounts(**counted.get("total", Counter())),
            by_cluster=part("cluster:"), by_market=part("market:"),
        )  # fmt: skip

    def meetings_to(self, region: str, month: str) -> mt.MeetingKpis:
        """Matching's counts of the region's meetings up to the month's end (to date)."""
        total: Counter[str] = Counter()
        by_region: dict[str, Counter[str]] = defaultdict(Counter)
        by_cluster: dict[str, Counter[str]] = defaultdict(Counter)
        for m in MONTHS[: MONTHS.index(month) + 1]:
            for (own, other, cluster, step), n in self.meetings[m].items():
                if own == region:
                    total[step] += n
                    by_region[other][step] += n
                    by_cluster[cluster][step] += n

        def counts(given: Counter[str]) -> mt.MeetingCounts:
            return mt.MeetingCounts(**{k: given[k] for k in fig.MEETING_FIELDS})

        return mt.MeetingKpis(
            region=region, total=counts(total),
            by_region={k: counts(v) for k, v in by_region.items()},
            by_cluster={k: counts(v) for k, v in by_cluster.items()},
        )  # fmt: skip

    def snapshot(self, region: str, month: str) -> c.FiguresSnapshot:
        first, last = fig.month_days(month)
        opened = [kind for day, kind in self.opened[region] if first <= day <= last]
        summary = fb.summarise(region, first, last, self.answers[region], opened)
        made = datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=1)
        kpis, meetings = self.kpis_of(region, month), self.meetings_to(region, month)
        return fig.snapshot(region, month, 1, made, kpis, meetings, summary)


async def seed(mongo_url: str, data: DataSet) -> None:
    """The reports service's database in the shapes it owns, through its repositories."""
    db = mongo.database(mongo.client(mongo_url), REGION, "reports")
    figures_repo, feedback_repo = FiguresRepository(db), FeedbackRepository(db)
    await figures_repo.create_indexes()
    await feedback_repo.create_indexes()
    for region in REGIONS:
        for month in MONTHS:
            snapshot = data.snapshot(region, month)
            if region == REGION:
                await figures_repo.put_own(snapshot, [])
            else:
                await figures_repo.put_copy(snapshot)
    own = [s for s in data.surveys if s.region == REGION]
    await each(own, lambda s: feedback_repo.open(s, []), 16)
    answers = data.answers[REGION]
    await each(answers, lambda a: feedback_repo.add_answer(a, a.answer_id, []), 16)


async def run(smes: int, meetings: int, answers: int) -> None:
    made = time.perf_counter()
    data = DataSet(smes, meetings, answers)
    print(f"data set made in {time.perf_counter() - made:.1f} s", flush=True)
    with embedded_servers() as (nats_url, mongo_url), tempfile.TemporaryDirectory() as logs:
        await seed(mongo_url, data)
        async with serving("reports", nats_url, mongo_url, Path(logs)):
            nc = await nats.connect(nats_url)
            client = BusClient(nc, source=f"mapnet/{REGION}/bench", role="steering")
            query = c.GetMonitoringReport(
                period_from=date(YEAR, 1, 1), period_to=date(YEAR, 12, 31), network=True,
                format="pdf",
            )  # fmt: skip
            started = time.perf_counter()
            report: Any = await client.call(
                c.GET_MONITORING_REPORT, query, REGION, actor=STEERING, timeout_s=600
            )
            seconds = time.perf_counter() - started
            await nc.close()
    pdf = base64.b64decode(report.content or "")
    assert pdf.startswith(b"%PDF") and sorted(report.regions) == sorted(REGIONS), report.regions
    print(f"pdf_bytes={len(pdf)} regions={','.join(report.regions)}", flush=True)
    print(figures(smes=smes, meetings=meetings, seconds=f"{seconds:.2f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--smes", type=int, default=10_000)
    parser.add_argument("--meetings", type=int, default=50_000)
    parser.add_argument("--answers", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(run(args.smes, args.meetings, args.answers))


if __name__ == "__main__":
    main()
