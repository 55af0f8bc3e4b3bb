"""Which region is a market's home: the network's regions and their countries, from
deploy/regions.toml (or the file MAPNET_REGIONS_FILE names), as `mapnet network config` reads
it, and any more the guide's settings name."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

REGIONS_FILE = Path(__file__).resolve().parents[3] / "deploy" / "regions.toml"


def region_countries(path: Path | None = None) -> dict[str, str]:
    """region id → its country, from the regions file (none if it is not there, as in an
    installed package without deploy/: then only the settings' pairs count)."""
    path = path or REGIONS_FILE
    if not path.is_file():
        return {}
    regions = tomllib.loads(path.read_text()).get("regions", {})
    return {
        region: str(fields["country"]).upper()
        for region, fields in regions.items()
        if isinstance(fields, dict) and fields.get("country")
    }


def market_homes(path: Path | None = None, more: Mapping[str, str] | None = None) -> dict[str, str]:
    """country (market) → its home region; the settings' pairs over the file's."""
    homes = {country: region for region, country in sorted(region_countries(path).items())}
    homes |= {country.upper(): region for region, country in sorted((more or {}).items())}
    return homes
