"""The network's list of regions (deploy/regions.toml, or the file MAPNET_REGIONS_FILE names):
which region is a market's home, and its MAP's public contact where the list gives one
(optional keys map_name, map_email, map_url, map_phone of a region's line)."""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

from ..domain.facts import RegionEntry, RegionList

# Where a source checkout keeps it (mapnet/federation reads the same file); an installed
# package without deploy/ names it by MAPNET_REGIONS_FILE.
DEFAULT_REGIONS_FILE = Path(__file__).resolve().parents[3] / "deploy" / "regions.toml"
CONTACT_KEYS = ("map_name", "map_email", "map_url", "map_phone")


def regions_file() -> Path:
    return Path(os.environ.get("MAPNET_REGIONS_FILE") or DEFAULT_REGIONS_FILE)


def load_region_list(path: Path | None = None, today: date | None = None) -> RegionList:
    """The regions as the file lists them, dated by the file's last change; without the file,
    an empty list that says so (the card then names no home region)."""
    path = path or regions_file()
    title = f"the network's list of regions ({path.name})"
    try:
        text = path.read_text()
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    except OSError:
        return RegionList(
            (), title, today or datetime.now(UTC).date(), f"{path} is not on this machine"
        )
    doc = tomllib.loads(text)
    entries = []
    for region, fields in sorted(doc.get("regions", {}).items()):
        contact = {key: str(fields.get(key) or "") for key in CONTACT_KEYS}
        entries.append(
            RegionEntry(
                region=region,
                city=str(fields.get("city") or ""),
                country=str(fields.get("country") or "").upper(),
                **contact,
            )
        )
    return RegionList(tuple(entries), title, changed)
