"""What brokerage achieved: contacts brokered (accepted requests), meetings held (an outcome
saying the meeting took place) and cooperation reached, by region and by cluster."""

from __future__ import annotations

from collections import defaultdict

from contracts import matching as c

from .meetings import HELD, Meeting, key


def meeting_kpis(
    region: str, meetings: list[Meeting], clusters: dict[str, list[str]]
) -> c.MeetingKpis:
    counts: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for m in meetings:
        if m.status != "accepted":
            continue
        row = (1, int(m.outcome in HELD), int(m.outcome == "cooperation_possible"))
        groups = {("total", "")}
        for ref in (m.requester, m.receiver):
            groups.add(("region", ref.region))
            groups |= {("cluster", cl) for cl in clusters.get(key(ref), [])}
        if m.requester.region != m.receiver.region:  # trans-national: counted once
            groups.add(("across", ""))
        for group in groups:
            counts[group] = [a + b for a, b in zip(counts[group], row, strict=True)]

    def counted(group: tuple[str, str]) -> c.MeetingCounts:
        brokered, held, cooperation = counts.get(group, [0, 0, 0])
        return c.MeetingCounts(
            contacts_brokered=brokered, meetings_held=held, cooperation_possible=cooperation
        )

    return c.MeetingKpis(
        region=region,
        total=counted(("total", "")),
        by_region={name: counted(("region", name)) for kind, name in counts if kind == "region"},
        by_cluster={name: counted(("cluster", name)) for kind, name in counts if kind == "cluster"},
        across_regions=counted(("across", "")),
    )
