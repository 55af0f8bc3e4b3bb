"""The network's list of regions (deploy/regions.toml, or the file MAPNET_REGIONS_FILE names):
which region is a market's home, and its MAP's public contact where the region's operator set
one (optional keys map_name, map_email, map_url, map_phone of the region's line)."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email

from ..domain.facts import RegionEntry, RegionList

# Where a source checkout keeps it (mapnet/federation reads the same file); an installed
# package without deploy/ names it by MAPNET_REGIONS_FILE.
DEFAULT_REGIONS_FILE = Path(__file__).resolve().parents[3] / "deploy" / "regions.toml"
CONTACT_KEYS = ("map_name", "map_email", "map_url", "map_phone")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{3,30}")


class RegionsFileError(ValueError):
    """The regions file says something the guide cannot take without guessing: a country that
    is no ISO country (its market would have no home region, and every region would write it),
    or a MAP contact that is not one (the card shows it to everyone as a link)."""


def regions_file() -> Path:
    return Path(os.environ.get("MAPNET_REGIONS_FILE") or DEFAULT_REGIONS_FILE)


def load_region_list(path: Path | None = None, today: date | None = None) -> RegionList:
    """The regions as the file lists them, dated by the file's last change; without the file,
    an empty list that says so (the card then names no home region). A file that is there but
    wrong (see RegionsFileError) is refused, naming the file, the region and the key."""
    path = path or regions_file()
    title = f"the network's list of regions ({path.name})"
    try:
        text = path.read_text()
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    except OSError:
        return RegionList(
            (), title, today or datetime.now(UTC).date(), f"{path} is not on this machine"
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as bad:
        raise RegionsFileError(f"{path} is not TOML: {bad}") from None
    entries = []
    for region, fields in sorted(doc.get("regions", {}).items()):
        if not isinstance(fields, dict):
            raise RegionsFileError(f"{path}: region {region} is not a table {{ country = … }}")
        contact = {key: _contact(path, region, key, fields.get(key)) for key in CONTACT_KEYS}
        entries.append(
            RegionEntry(
                region=region,
                city=str(fields.get("city") or ""),
                country=_country(path, region, fields.get("country")),
                **contact,
            )
        )
    return RegionList(tuple(entries), title, changed)


def _country(path: Path, region: str, value: Any) -> str:
    """The region's country, '' where its line names none (it is then no market's home)."""
    code = str(value or "").strip().upper()
    if value is None or value == "":
        return ""
    if not re.fullmatch(r"[A-Z]{2}", code) or pycountry.countries.get(alpha_2=code) is None:
        raise RegionsFileError(
            f"{path}: region {region}'s country {value!r} is not an ISO 3166 country code "
            "(e.g. EE): its market would have no home region"
        )
    return code


def _contact(path: Path, region: str, key: str, value: Any) -> str:
    """A contact key as given, or '' where it is not set; refused where it is not a contact
    the card may show (a link that is not http(s), an address that is not one, two lines)."""
    if value is None or value == "":
        return ""
    text = value.strip() if isinstance(value, str) else None
    problem = None
    if text is None or not text or "\n" in text or len(text) > 300:
        problem = "is not one line of text (at most 300 characters)"
    elif key == "map_url" and not _URL.fullmatch(text):
        problem = "is not an http:// or https:// address"
    elif key == "map_phone" and not _PHONE.fullmatch(text):
        problem = "is not a telephone number (digits, spaces, + ( ) . / -)"
    elif key == "map_email":
        try:
            validate_email(text, check_deliverability=False)
        except EmailNotValidError as bad:
            problem = f"is not a mail address ({bad})"
    if problem:
        raise RegionsFileError(f"{path}: region {region}'s {key} {value!r} {problem}")
    return text or ""
