"""The network's list of regions (deploy/regions.toml, or the file MAPNET_REGIONS_FILE names),
read for the country of each region: the guide lists the network's markets first, and links a
partner's market from partner search by the partner's region."""

from __future__ import annotations

import tomllib
from pathlib import Path

# Where a source checkout keeps it (the federation's configuration and the guide read the same
# file); an installed package without deploy/ is told it by MAPNET_REGIONS_FILE.
DEFAULT_REGIONS_FILE = Path(__file__).resolve().parents[3] / "deploy" / "regions.toml"


def region_countries(path: Path | None = None) -> dict[str, str]:
    """Each region's country (ISO 3166 alpha-2), as the file lists them; none without the file
    (the guide's index then offers only its choice of a market, and partner search links none)."""
    try:
        doc = tomllib.loads((path or DEFAULT_REGIONS_FILE).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    regions = doc.get("regions", {})
    return {
        region: str(fields.get("country") or "").upper()
        for region, fields in regions.items()
        if isinstance(fields, dict) and fields.get("country")
    }
