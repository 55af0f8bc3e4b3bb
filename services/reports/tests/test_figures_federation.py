"""The network's figures across three real regions and a real hub (as tests/test_federation.py):
each region publishes its month, and every region holds all three snapshots from its own
copies, so its staff and the steering group read the whole network locally; the network's
total is the sum of the regions'; a re-publication replaces the copies; nothing personal is in
any copy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from services.reports.domain.figures import month_of, network_total
from tests.helpers import eventually
from tests.three_regions import an_sme

pytestmark = pytest.mark.timeout(240)

T, H, B = "tallinn", "helsinki", "berlin"
TODAY = datetime.now(UTC).date()
MONTH = month_of(TODAY)


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    services = ("registry", "matching", "reports")
    async with LocalNetwork(Path(tmp_path_factory.mktemp("figures-net")), [T, H, B], services) as n:
        yield n


def staff(region: str) -> Actor:
    return Actor(id=f"staff@{region}.example", role="map_staff", region=region)


async def register(client: BusClient, region: str, n: int, cluster: str) -> list[str]:
    """``n`` SMEs of the cluster in the region, each moved to selected: their names."""
    names = []
    for i in range(n):
        name = f"{region.capitalize()} {cluster} {i} Oy"
        contact = {"name": f"Person {region} {i}", "email": f"p{i}@{region}.example"}
        sme = await client.call(
            rg.REGISTER_SME,
            an_sme(name, clusters=[cluster], contacts=[contact]),
            region,
            actor=staff(region),
        )
        await client.call(
            rg.CHANGE_STAGE,
            rg.ChangeStage(sme_id=sme.sme_id, to_stage="selected", reason="fits"),
            region,
            actor=staff(region),
        )
        names += [name, sme.sme_id]
    return names


async def network(client: BusClient, region: str, actor: Actor) -> list[c.FiguresSnapshot]:
    page = await client.call(
        c.LIST_FIGURES, c.ListFigures(month_from=MONTH, month_to=MONTH), region, actor=actor
    )
    return page.items


def versions(expected: dict[str, int]) -> object:
    def seen(items: list[c.FiguresSnapshot]) -> bool:
        return {s.region: s.version for s in items} == expected

    return seen


async def test_each_region_reads_the_whole_networks_figures_from_its_own_copies(
    net: LocalNetwork,
) -> None:
    clients = {r: await net.client(r) for r in (T, H, B)}
    counts = {T: (3, "photonics"), H: (2, "ict"), B: (1, "life_sciences")}
    personal: list[str] = []
    for region, (n, cluster) in counts.items():
        personal += await register(clients[region], region, n, cluster)
        await clients[region].call(
            c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), region, actor=staff(region)
        )

    readers = {T: staff(T), H: Actor(id="official@helsinki.example", role="steering", region=H),
               B: staff(B)}  # fmt: skip
    for region, actor in readers.items():
        items = await eventually(
            partial(network, clients[region], region, actor),
            until=versions({T: 1, H: 1, B: 1}),  # type: ignore[arg-type]
        )
        by_region = {s.region: s for s in items}
        for home, (n, cluster) in counts.items():
            assert by_region[home].total.identified == n
            assert by_region[home].total.selected == n
            assert by_region[home].by_cluster[cluster].selected == n
        # The network's figures are the sum of the regions'.
        total = network_total(items)
        assert (total.identified, total.selected) == (6, 6)
        text = "".join(s.model_dump_json() for s in items)
        for word in personal:
            assert word not in text, word
        assert "@" not in text
        # One region's figures, read from the copy.
        only = await clients[region].call(
            c.LIST_FIGURES, c.ListFigures(region=T), region, actor=actor
        )
        assert [(s.region, s.total.identified) for s in only.items] == [(T, 3)]

    # Tallinn publishes its month again after a change: the copies are replaced.
    await register(clients[T], T, 1, "ict")
    again = await clients[T].call(
        c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), T, actor=staff(T)
    )
    assert (again.version, again.total.identified) == (2, 4)
    for region in (H, B):
        items = await eventually(
            partial(network, clients[region], region, readers[region]),
            until=versions({T: 2, H: 1, B: 1}),  # type: ignore[arg-type]
        )
        tallinn = next(s for s in items if s.region == T)
        assert (tallinn.total.identified, tallinn.by_cluster["ict"].identified) == (4, 1)
        assert network_total(items).identified == 7


async def test_a_region_forging_another_regions_figures_changes_no_copy(
    net: LocalNetwork,
) -> None:
    """Tallinn's operator, with Tallinn's own service login, puts a snapshot claiming to be
    Berlin's (inflated) into Tallinn's shared stream, and one claiming Berlin's month under a
    Berlin subject. Neither reaches Helsinki as Berlin's: the first is refused by Helsinki's
    consumer (dead-lettered, naming why), the second is never copied (Helsinki copies only
    ``mapnet.tallinn.>`` from Tallinn). Berlin's own figures, as Berlin published them, stay."""
    import nats

    from contracts.subjects import dlq_stream
    from mapnet.runtime.codec import encode, make_envelope

    clients = {r: await net.client(r) for r in (T, H, B)}
    await register(clients[B], B, 1, "photonics")
    real = await clients[B].call(
        c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), B, actor=staff(B)
    )
    reader = staff(H)

    def berlins(items: list[c.FiguresSnapshot]) -> c.FiguresSnapshot | None:
        return next((s for s in items if s.region == B), None)

    seen = await eventually(
        partial(network, clients[H], H, reader),
        until=lambda items: (b := berlins(items)) is not None and b.version >= real.version,
    )
    before = berlins(seen)
    assert before is not None
    inflated = real.model_copy(
        update={"version": real.version + 50,
                "total": real.total.model_copy(update={"identified": 999_999})}
    )  # fmt: skip
    as_tallinn = make_envelope(
        c.FIGURES_PUBLISHED, inflated, region=T, source=f"mapnet/{T}/reports"
    )
    as_berlin = make_envelope(c.FIGURES_PUBLISHED, inflated, region=B, source=f"mapnet/{B}/reports")
    nc = await nats.connect(net.regions[T].nats_url)
    try:
        js = nc.jetstream()
        await js.publish(c.FIGURES_PUBLISHED.subject(T), encode(as_tallinn))
        # A Berlin subject on Tallinn's server: no stream of Tallinn's holds it, or if one did,
        # no region copies it from Tallinn.
        await nc.publish(c.FIGURES_PUBLISHED.subject(B), encode(as_berlin))
        await nc.flush()
    finally:
        await nc.close()

    async def dead_letters() -> list[str]:
        hc = await nats.connect(net.regions[H].nats_url)
        try:
            msg = await hc.jetstream().get_last_msg(dlq_stream(H), f"mapnet.{H}.reports.dlq.>")
            return [(msg.headers or {}).get("Mapnet-Dlq-Reason", "")]
        except nats.js.errors.NotFoundError:
            return []
        finally:
            await hc.close()

    reasons = await eventually(dead_letters, until=bool)
    assert "forbidden" in reasons[0] and "'berlin' is not its publisher's 'tallinn'" in reasons[0]
    after = berlins(await network(clients[H], H, reader))
    assert after is not None
    assert (after.version, after.total.identified) == (before.version, before.total.identified)
    assert after.total.identified != 999_999


async def test_a_snapshot_claiming_a_version_no_republishing_reaches_is_refused(
    net: LocalNetwork,
) -> None:
    """Berlin's operator puts Berlin's month under version 2**62 into Berlin's own stream: had
    Helsinki kept it, no later publication of Berlin's month would ever replace it. The
    contract's bound refuses it (dead-lettered as invalid) and Berlin's next real version is
    the one Helsinki holds."""
    import json

    import nats

    from contracts.subjects import dlq_stream
    from mapnet.runtime.codec import encode, make_envelope

    clients = {r: await net.client(r) for r in (T, H, B)}
    await register(clients[B], B, 1, "ict")
    real = await clients[B].call(
        c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), B, actor=staff(B)
    )
    body = json.loads(encode(make_envelope(c.FIGURES_PUBLISHED, real, region=B, source=B)))
    body["data"]["version"] = 2**62
    nc = await nats.connect(net.regions[B].nats_url)
    try:
        await nc.jetstream().publish(c.FIGURES_PUBLISHED.subject(B), json.dumps(body).encode())
    finally:
        await nc.close()

    async def dead_letter_reasons() -> list[str]:
        hc = await nats.connect(net.regions[H].nats_url)
        try:
            msg = await hc.jetstream().get_last_msg(dlq_stream(H), f"mapnet.{H}.reports.dlq.>")
            return [(msg.headers or {}).get("Mapnet-Dlq-Reason", "")]
        except nats.js.errors.NotFoundError:
            return []
        finally:
            await hc.close()

    reasons = await eventually(
        dead_letter_reasons, until=lambda got: bool(got) and "data.version" in got[0]
    )
    assert "validation_failed" in reasons[0]
    # Berlin publishes its month again: Helsinki's copy is that version, not the forged one.
    again = await clients[B].call(
        c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), B, actor=staff(B)
    )
    assert again.version == real.version + 1
    berlins = await eventually(
        partial(network, clients[H], H, staff(H)),
        until=lambda items: any(s.region == B and s.version == again.version for s in items),
    )
    assert max(s.version for s in berlins if s.region == B) == again.version
