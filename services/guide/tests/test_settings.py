"""The guide's settings refuse what would silently change which region writes a market: a
MAPNET_GUIDE_HOME_MARKETS part that is not region=CC, a region named twice, a regions file
named but not there."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.guide.adapters.markets import market_homes
from services.guide.adapters.regions import DEFAULT_REGIONS_FILE
from services.guide.settings import GuideSettings


def settings(**env: str) -> GuideSettings:
    return GuideSettings.model_validate(env)


def test_home_market_pairs_are_read_and_a_country_in_lower_case_taken() -> None:
    given = settings(MAPNET_GUIDE_HOME_MARKETS="tallinn=EE, riga=lv,")
    assert given.home_markets == {"tallinn": "EE", "riga": "LV"}


@pytest.mark.parametrize(
    "pairs",
    [
        "tallinn=Estonia",  # a market nobody would ever write
        "tallinn EE",  # dropped, EE left to the file or to any region
        "Tallinn=EE",  # EE's home a region that does not exist: tallinn no longer writes it
        "tallinn=XX",
        "tallinn=EE,tallinn=LV",  # the last won: tallinn took riga's market
        "tallinn=EE,riga=EE",  # the last by id won: riga silently no longer tallinn's market
    ],
)
def test_a_pair_that_is_not_region_equals_country_stops_the_guide(pairs: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(MAPNET_GUIDE_HOME_MARKETS=pairs)
    assert refused.value.errors()[0]["loc"] == ("MAPNET_GUIDE_HOME_MARKETS",)


def test_a_regions_file_named_but_missing_stops_the_guide(tmp_path: Path) -> None:
    # Without it no market has a home region: this region's staff would write every market.
    missing = tmp_path / "regions.toml"
    with pytest.raises(ValidationError) as refused:
        settings(MAPNET_REGIONS_FILE=str(missing))
    assert refused.value.errors()[0]["loc"] == ("MAPNET_REGIONS_FILE",)
    missing.write_text('[regions]\ntallinn = { city = "Tallinn", country = "EE" }\n')
    there = settings(MAPNET_REGIONS_FILE=str(missing))
    assert market_homes(there.regions_file, there.home_markets) == {"EE": "tallinn"}


def test_a_regions_file_with_a_country_that_is_no_iso_code_stops_the_guide(
    tmp_path: Path,
) -> None:
    # 'Estonia' would be a market nobody reads and EE no region's: every region would write it.
    regions = tmp_path / "regions.toml"
    regions.write_text('[regions]\ntallinn = { city = "Tallinn", country = "Estonia" }\n')
    with pytest.raises(ValidationError) as refused:
        settings(MAPNET_REGIONS_FILE=str(regions))
    assert refused.value.errors()[0]["loc"] == ("MAPNET_REGIONS_FILE",)
    assert "region tallinn's country 'Estonia'" in str(refused.value)


def test_the_default_regions_file_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "regions.toml"
    bad.write_text('[regions]\ntallinn = { country = "EE", map_url = "javascript:x" }\n')
    monkeypatch.setattr("services.guide.adapters.regions.DEFAULT_REGIONS_FILE", bad)
    with pytest.raises(ValidationError, match="map_url"):
        settings()
    assert settings(MAPNET_REGIONS_FILE=str(DEFAULT_REGIONS_FILE)).regions_file


def test_two_regions_of_one_country_need_the_operator_to_say_which_writes_its_guide(
    tmp_path: Path,
) -> None:
    """A second German region: the guide does not let the region id that sorts last take
    Germany's guide from Berlin's staff; the operator names the home region."""

    regions = tmp_path / "regions.toml"
    regions.write_text(
        "[regions]\n"
        'berlin = { city = "Berlin", country = "DE" }\n'
        'hamburg = { city = "Hamburg", country = "DE" }\n'
        'tallinn = { city = "Tallinn", country = "EE" }\n'
    )
    with pytest.raises(ValidationError, match="regions berlin, hamburg are all in DE"):
        settings(MAPNET_REGIONS_FILE=str(regions))
    chosen = settings(MAPNET_REGIONS_FILE=str(regions), MAPNET_GUIDE_HOME_MARKETS="berlin=DE")
    homes = market_homes(chosen.regions_file, chosen.home_markets)
    assert (homes["DE"], homes["EE"]) == ("berlin", "tallinn")
