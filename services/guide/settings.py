"""The guide's own settings, read from the environment (and a .env file) by its declaration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pycountry
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.ids import REGION_PATTERN

from .adapters.markets import region_countries
from .adapters.regions import load_region_list


class GuideSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    regions_file: Path | None = Field(
        default=None,
        validate_default=True,  # the default file is checked as one named would be
        validation_alias="MAPNET_REGIONS_FILE",
        description="The network's regions and their countries (default deploy/regions.toml): "
        "a market's home region is the one whose country it is",
    )
    home_markets: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias="MAPNET_GUIDE_HOME_MARKETS",
        description="More regions' countries, beside the regions file: 'region=CC,…'",
    )
    review_check_s: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="MAPNET_GUIDE_REVIEW_CHECK_S",
        description="How often the guide looks for articles due for review (and at start)",
    )

    offers_per_publisher: int = Field(
        default=1000,
        ge=1,
        validation_alias="MAPNET_GUIDE_OFFERS_PER_PUBLISHER",
        description="Published finance offers one publisher (a finance partner, the MAP) may "
        "hold in this region: every region copies them and weighs them all for each SME's "
        "suggestions, so one partner cannot flood the network",
    )

    demo: bool = Field(
        default=False,
        validation_alias="MAPNET_DEMO",
        description="A demo (`mapnet up --demo`, `make run`): at start, the starter articles of "
        "the markets other regions are home for are put in as read copies of their home "
        "regions' demo articles, which replace them when they arrive; never in a real region",
    )

    @field_validator("home_markets", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        """'region=CC,…' as region → country. A part that is not a region id, '=' and a
        country code, or a region named twice, stops the guide at its start: dropped or
        garbled, it would silently leave a market without its home region or give it to
        another (which region writes a market is decided here)."""
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            region, _, country = (s.strip() for s in part.partition("="))
            country = country.upper()
            if not re.fullmatch(REGION_PATTERN, region) or not _is_country(country):
                raise ValueError(f"{part!r} is not region=CC (a region id, an ISO country code)")
            if region in pairs:
                raise ValueError(f"region {region} is named twice (one country per region)")
            if country in pairs.values():
                # The last by region id would win: the other region would silently stop
                # writing a market it was told is its own.
                raise ValueError(f"country {country} is named twice (one home per market)")
            pairs[region] = country
        return pairs

    @field_validator("regions_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        """A regions file that is named must be there: without it no market would have a home
        region, and this region's staff would write every market. The file (named or the
        default) must say what the guide can take without guessing: a country that is an ISO
        code, MAP contacts that are contacts (adapters/regions.py)."""
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        load_region_list(value)  # RegionsFileError is a ValueError: it names the setting
        return value

    @model_validator(mode="after")
    def _one_home_per_market(self) -> GuideSettings:
        """Two regions of one country in the regions file (say a second German region): which
        of them writes the country's guide is the operator's to say, in
        MAPNET_GUIDE_HOME_MARKETS; otherwise the guide stops at its start rather than give the
        market to whichever region id sorts last, refusing the other's staff."""
        by_country: dict[str, list[str]] = {}
        for region, country in region_countries(self.regions_file).items():
            by_country.setdefault(country, []).append(region)
        decided = set(self.home_markets.values())
        for country, regions in sorted(by_country.items()):
            if len(regions) > 1 and country not in decided:
                raise ValueError(
                    f"regions {', '.join(sorted(regions))} are all in {country}: say which one "
                    f"writes its guide, e.g. MAPNET_GUIDE_HOME_MARKETS={sorted(regions)[0]}="
                    f"{country}"
                )
        return self


def _is_country(code: str) -> bool:
    return re.fullmatch(r"[A-Z]{2}", code) is not None and (
        pycountry.countries.get(alpha_2=code) is not None
    )
