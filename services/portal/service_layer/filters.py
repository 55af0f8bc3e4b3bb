"""What the pages' filters offer: the values that exist, from the services that know them.

The clusters of the region's SMEs come from the registry's counts (list_clusters); partner
search and the calendar carry their own on their pages (matching's, events'), as the
marketplace does. An SME's clusters are free names, so a value given in an address that is not
among them (a link from elsewhere) still filters: the pages show it chosen."""

from __future__ import annotations

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused

from .guide import Call


async def region_clusters(call: Call, actor: Actor) -> dict[str, int]:
    """The clusters of the region's SMEs, each with how many SMEs are in it, by name; none when
    the registry does not answer or says no (the filter then offers what the address names)."""
    try:
        found: rg.ClusterList = await call(rg.LIST_CLUSTERS, rg.ListClusters(), actor)
    except Refused:
        return {}
    return {item.cluster: item.smes for item in found.items}
