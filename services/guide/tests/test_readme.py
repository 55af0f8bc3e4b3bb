"""The README's sections on the guide and the finance link, taken word for word: each `make`
command they show runs as shown (make takes targets, not options: `make run --demo` is refused
by make itself), and the regions file example sets a MAP's contact the guide accepts."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

from services.guide.adapters.regions import load_region_list
from services.guide.domain.facts import market_facts

ROOT = Path(__file__).resolve().parents[3]


def sections() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## The Market Access Guide: articles")
    return text[start : text.index("## Reports and the SMEs' feedback")]


def test_every_make_command_of_the_guide_sections_runs_as_shown() -> None:
    commands = set(re.findall(r"`(make [^`]*)`", sections()))
    assert commands, "the sections show no make command"
    for command in sorted(commands):
        dry = subprocess.run(
            [*command.split(), "-n"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert dry.returncode == 0, f"{command}: {dry.stderr}"


def test_the_regions_file_example_sets_a_map_contact_the_guide_accepts(tmp_path: Path) -> None:
    block = sections().split("```toml\n", 1)[1].split("```", 1)[0]
    regions = tmp_path / "regions.toml"
    regions.write_text(block)
    contact = market_facts("EE", date.today(), load_region_list(regions)).map_contact
    assert contact.contact_set and contact.region == "tallinn"
    assert contact.email and contact.url.startswith("https://") and contact.phone
