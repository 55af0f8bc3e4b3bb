"""Partner search over 10,000 generated cooperation profiles: the profiles reach the matching
service (in its own process) as the registry's profile_published events, then 1,000
find_partners queries for the top 20 go through the bus one after another.

    python -m bench.search [--profiles 10000] [--queries 1000] [--direct]

With --direct the profiles are written straight into matching's read model (as its consumer
writes them) before the service starts, which then loads them: at 100,000 profiles the events
take hours on a loaded two-core machine, and what is measured here is the search, not the
registry's events.

The index follows the read model as the profiles arrive; the first query is reported on its own
(first_query_ms) and left out of p50/p95. Four times during the queries a new profile is
published and then withdrawn (as the registry's events): follow_ms is the longest time from an
event's publication until find_partners shows the profile, or no longer shows it (polled with a
filter only that profile passes); the queries after each change are among those measured.
index_mb is the memory an index of the same generated profiles holds, measured with tracemalloc
in the benchmark's own process (the service's index is built the same way). Precision at 1 on
the hand-labelled set is then asked
of the service too: a fresh matching service (its own servers) takes the set's profiles as
profile_published events, and each labelled seeker's find_partners (limit 1, over the bus) is
checked against what a coach judged a good partner.

Last line: profiles=… p95_ms=… p50_ms=… first_query_ms=… precision_at_1=… index_mb=…
follow_ms=…"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import REGION, embedded_servers, figures, serving
from contracts import matching as c
from contracts import registry as reg
from contracts.common import SmeRef
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from services.matching.adapters.profile_index import ProfileIndex
from services.matching.testdata.relevance_set import RELEVANT, profile_docs

REGIONS = ["berlin", "copenhagen", "helsinki", "oslo", "riga", "stockholm", "tallinn", "vilnius"]
COUNTRIES = {"berlin": "DE", "copenhagen": "DK", "helsinki": "FI", "oslo": "NO", "riga": "LV",
             "stockholm": "SE", "tallinn": "EE", "vilnius": "LT"}  # fmt: skip
TOPICS = {
    "photonics": (["26.70", "26.51", "27.90"], "laser optics lidar sensor fibre photonic "
                  "spectrometer imaging micro-machining glass coating"),
    "ict": (["62.01", "62.02", "63.11"], "cloud saas payments fintech cyber security data "
            "platform iot analytics e-government marketplace"),
    "life-sciences": (["21.20", "72.11", "32.50"], "diagnostics sepsis biomarker vaccine "
                      "clinical trial medical device e-health genomics"),
    "cleantech": (["27.20", "35.11", "37.00"], "battery storage water membrane solar wind "
                  "hydrogen recycling circular energy"),
}  # fmt: skip
TYPES = ["technology_offer", "technology_request", "business_offer", "business_request",
         "rd_request"]  # fmt: skip


def profile_models(i: int, rng: random.Random) -> tuple[reg.SmePublic, reg.Profile]:
    cluster = rng.choice(list(TOPICS))
    nace, vocabulary = TOPICS[cluster]
    words = vocabulary.split()
    region = REGIONS[i % len(REGIONS)] if i % 3 else REGION
    sme = reg.SmePublic(
        sme_id=f"sme-{i}", region=region, version=1, legal_name=f"Company {i}",
        country=COUNTRIES.get(region, "EE"), nace_codes=[rng.choice(nace)], clusters=[cluster],
        keywords=rng.sample(words, 2), description="", size_class="small",
        growth_class="neither", stage="identified", share_with_network=True,
    )  # fmt: skip
    profile = reg.Profile(
        profile_id=f"p-{i}", type=rng.choice(TYPES), title=" ".join(rng.sample(words, 4)),
        summary=" ".join(rng.sample(words, 8)), keywords=rng.sample(words, 3),
        nace_codes=[rng.choice(nace)], partnership_types=["technical_cooperation"],
        expires_on=date.today() + timedelta(days=365), status="published",
        published_at=datetime.now(UTC),
    )  # fmt: skip
    return sme, profile


def profile_event(i: int, rng: random.Random) -> bytes:
    sme, profile = profile_models(i, rng)
    event = make_envelope(
        reg.PROFILE_PUBLISHED,
        reg.ProfilePublished(sme=sme, profile=profile),
        region=REGION,
        source=f"mapnet/{REGION}/registry",
    )
    return encode(event)


async def load_profiles(nats_url: str, mongo_url: str, count: int) -> None:
    rng = random.Random(2026)
    client = await BusClient.connect(nats_url, source="mapnet/bench", role="map_staff")
    js = client.nc.jetstream()
    subject = reg.PROFILE_PUBLISHED.subject(REGION)
    for start in range(0, count, 500):
        await asyncio.gather(
            *(
                js.publish(subject, profile_event(i, rng))
                for i in range(start, min(start + 500, count))
            )
        )
    await client.close()
    profiles = mongo.database(mongo.client(mongo_url), REGION, "matching").profiles
    deadline = time.monotonic() + 300
    while await profiles.count_documents({}) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the matching service did not take in every profile")
        await asyncio.sleep(0.5)


def read_model_doc(i: int, rng: random.Random) -> dict[str, Any]:
    """Generated profile ``i`` as matching's read model holds it."""
    sme, profile = profile_models(i, rng)
    return {
        "_id": profile.profile_id,
        "sme_key": f"{sme.region}:{sme.sme_id}",
        "sme": sme.model_dump(mode="json"),
        "profile": profile.model_dump(mode="json"),
    }


def index_mb(profiles: int) -> float:
    """The memory an index of these generated profiles holds (tracemalloc: what is still
    allocated once the read-model records it was built from are gone)."""
    gc.collect()
    tracemalloc.start()
    rng = random.Random(2026)
    docs = []
    for i in range(profiles):
        docs.append(read_model_doc(i, rng))
    index = ProfileIndex(read_model=None)  # type: ignore[arg-type]
    index._build(docs)
    del docs
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return held / 1e6


def follow_event(k: int, *, withdrawn: bool) -> bytes:
    """A profile only a search filtered by its cluster ``follow-k`` finds, or its withdrawal."""
    sme = reg.SmePublic(
        sme_id=f"sme-follow-{k}", region=REGION, version=1, legal_name=f"Follower {k}",
        country="EE", nace_codes=["26.70"], clusters=[f"follow-{k}"], keywords=["laser"],
        description="", size_class="small", growth_class="neither", stage="identified",
        share_with_network=True,
    )  # fmt: skip
    source = f"mapnet/{REGION}/registry"
    if withdrawn:
        gone = reg.ProfileWithdrawn(
            sme_id=sme.sme_id, region=REGION, profile_id=f"p-follow-{k}", reason="bench"
        )
        return encode(make_envelope(reg.PROFILE_WITHDRAWN, gone, region=REGION, source=source))
    profile = reg.Profile(
        profile_id=f"p-follow-{k}", type="technology_offer", title="laser optics",
        summary="laser optics lidar", keywords=["laser"], nace_codes=["26.70"],
        partnership_types=["technical_cooperation"],
        expires_on=date.today() + timedelta(days=365), status="published",
        published_at=datetime.now(UTC),
    )  # fmt: skip
    published = reg.ProfilePublished(sme=sme, profile=profile)
    return encode(make_envelope(reg.PROFILE_PUBLISHED, published, region=REGION, source=source))


async def follow(client: BusClient, k: int) -> list[float]:
    """Milliseconds from publishing a new profile until find_partners shows it, and from
    withdrawing it until it no longer does."""
    js = client.nc.jetstream()
    query = c.FindPartners(seeker=SmeRef(sme_id="sme-0", region=REGION), cluster=f"follow-{k}")
    taken = []
    for withdrawn in (False, True):
        kind = reg.PROFILE_WITHDRAWN if withdrawn else reg.PROFILE_PUBLISHED
        started = time.perf_counter()
        await js.publish(kind.subject(REGION), follow_event(k, withdrawn=withdrawn))
        while bool((await client.call(c.FIND_PARTNERS, query, REGION)).items) == withdrawn:
            if time.perf_counter() - started > 60:
                raise RuntimeError("the index did not follow a change within 60 s")
            await asyncio.sleep(0.005)
        taken.append((time.perf_counter() - started) * 1000)
    return taken


async def seed_read_model(mongo_url: str, count: int) -> None:
    """The read model as matching's consumer leaves it after ``count`` profile_published
    events (no change feed entries: the service, started after, loads them all)."""
    db = mongo.database(mongo.client(mongo_url), REGION, "matching")
    await db.profiles.create_index("sme_key", name="sme_key")
    rng = random.Random(2026)
    batch: list[dict[str, Any]] = []
    for i in range(count):
        batch.append(read_model_doc(i, rng))
        if len(batch) == 2_000 or i == count - 1:
            await db.profiles.insert_many(batch)
            smes = [{**d["sme"], "_id": d["sme_key"]} for d in batch]
            await db.smes.insert_many(smes)
            batch = []
    await db.read_model_meta.update_one({"_id": "profiles"}, {"$set": {"version": 0}}, upsert=True)


async def queries(
    nats_url: str, count: int, profiles: int
) -> tuple[float, list[float], list[float]]:
    """The first query's time, each of the next ``count``'s, and the follow probes' times."""
    # The first query waits for the service's index to load every profile: at 100,000 on
    # nx-27017 that is more than a minute.
    client = await BusClient.connect(
        nats_url, source="mapnet/bench", timeout_s=600, role="map_staff"
    )
    rng = random.Random(7)
    seekers = [rng.randrange(profiles) for _ in range(count)]
    started = time.perf_counter()
    region = lambda i: REGIONS[i % len(REGIONS)] if i % 3 else REGION  # noqa: E731
    await client.call(
        c.FIND_PARTNERS, c.FindPartners(seeker=SmeRef(sme_id="sme-0", region=region(0))), REGION
    )
    first_ms = (time.perf_counter() - started) * 1000
    print(f"first query: {first_ms:.0f} ms", flush=True)
    latencies: list[float] = []
    followed: list[float] = []
    probes = {count * k // 4: k for k in range(4)}
    for n, i in enumerate(seekers):
        if n in probes:
            followed += await follow(client, probes[n])
        query = c.FindPartners(seeker=SmeRef(sme_id=f"sme-{i}", region=region(i)), limit=20)
        started = time.perf_counter()
        page = await client.call(c.FIND_PARTNERS, query, REGION)
        latencies.append((time.perf_counter() - started) * 1000)
        assert page.items, "a query found nothing"
    await client.close()
    print("follow probes (ms): " + " ".join(f"{t:.0f}" for t in followed), flush=True)
    return first_ms, latencies, followed


def labelled_event(doc: dict[str, Any]) -> bytes:
    """A profile of the hand-labelled set as the registry publishes it."""
    sme, profile = doc["sme"], doc["profile"]
    public = reg.SmePublic.model_validate(
        {**sme, "version": 1, "description": "", "growth_class": "neither",
         "stage": "identified"}
    )  # fmt: skip
    published = reg.Profile.model_validate(
        {**profile, "partnership_types": ["technical_cooperation"],
         "published_at": datetime.now(UTC)}
    )  # fmt: skip
    return encode(
        make_envelope(
            reg.PROFILE_PUBLISHED,
            reg.ProfilePublished(sme=public, profile=published),
            region=REGION,
            source=f"mapnet/{REGION}/registry",
        )
    )


async def precision_at_1(logs: Path) -> float:
    """Precision at 1 on the hand-labelled set, asked of a matching service holding only the
    set (among other profiles, an unlabelled good partner would count as a miss)."""
    docs = profile_docs()
    with embedded_servers() as (nats_url, mongo_url):
        async with serving("matching", nats_url, mongo_url, logs):
            client = await BusClient.connect(
                nats_url, source="mapnet/bench", timeout_s=30, role="map_staff"
            )
            js = client.nc.jetstream()
            for doc in docs:
                await js.publish(reg.PROFILE_PUBLISHED.subject(REGION), labelled_event(doc))
            held = mongo.database(mongo.client(mongo_url), REGION, "matching").profiles
            deadline = time.monotonic() + 60
            while await held.count_documents({}) < len(docs):
                if time.monotonic() > deadline:
                    raise RuntimeError("the matching service did not take in the labelled set")
                await asyncio.sleep(0.1)
            by_id = {d["_id"]: d for d in docs}
            hits = 0
            for seeker_id, relevant in RELEVANT.items():
                sme = by_id[seeker_id]["sme"]
                query = c.FindPartners(
                    seeker=SmeRef(sme_id=sme["sme_id"], region=sme["region"]),
                    profile_id=seeker_id,
                    limit=1,
                )
                page = await client.call(c.FIND_PARTNERS, query, REGION)
                hits += bool(page.items and page.items[0].profile_id in relevant)
            await client.close()
    return hits / len(RELEVANT)


async def main(profiles: int, count: int, direct: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with embedded_servers() as (nats_url, mongo_url):
            started = time.perf_counter()
            if direct:
                await seed_read_model(mongo_url, profiles)
            async with serving("matching", nats_url, mongo_url, Path(tmp)):
                if not direct:
                    await load_profiles(nats_url, mongo_url, profiles)
                loaded_s = time.perf_counter() - started
                print(f"{profiles} profiles in the read model after {loaded_s:.1f} s")
                first_ms, latencies, followed = await queries(nats_url, count, profiles)
        precision = await precision_at_1(Path(tmp))
    memory_mb = index_mb(profiles)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        figures(
            profiles=profiles,
            p95_ms=f"{cuts[94]:.1f}",
            p50_ms=f"{cuts[49]:.1f}",
            first_query_ms=f"{first_ms:.0f}",
            precision_at_1=f"{precision:.2f}",
            index_mb=f"{memory_mb:.1f}",
            follow_ms=f"{max(followed):.0f}",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--direct", action="store_true", help="seed the read model directly")
    args = parser.parse_args()
    asyncio.run(main(args.profiles, args.queries, args.direct))
