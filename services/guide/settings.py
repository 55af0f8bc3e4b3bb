"""The guide's own settings, read from the environment (and a .env file) by its declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class GuideSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    regions_file: Path | None = Field(
        default=None,
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
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if "=" in part]
            return {region.strip(): country.strip().upper() for region, country in pairs}
        return value
