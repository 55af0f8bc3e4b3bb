"""A few dozen invented, realistic SMEs of region tallinn across the seed's clusters."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from stdnum.ee.registrikood import calc_check_digit

CLUSTERS: dict[str, dict[str, Any]] = {
    "photonics": {
        "nace": ["26.70", "26.11", "27.90", "72.19"],
        "words": ["lasers", "optics", "sensors", "micro-machining", "lidar", "thin films"],
        "names": [
            "Lumen",
            "Photon",
            "Optika",
            "Kiir",
            "Valgus",
            "Prisma",
            "Spekter",
            "Laserwerk",
            "Nanofoto",
            "Fiiber",
            "Koherent",
            "Ultrafast",
        ],
    },
    "ict": {
        "nace": ["62.01", "62.02", "63.11", "58.29"],
        "words": ["saas", "e-government", "cyber security", "fintech", "data platforms", "iot"],
        "names": [
            "Koodi",
            "Pilve",
            "Andme",
            "Turva",
            "Digi",
            "Vork",
            "Skript",
            "Bitwise",
            "Datalane",
            "Kvant",
            "Serverlab",
            "Logic",
        ],
    },
    "life-sciences": {
        "nace": ["21.20", "72.11", "32.50", "86.90"],
        "words": ["diagnostics", "biotech", "medical devices", "genomics", "e-health", "enzymes"],
        "names": [
            "Geen",
            "Bioloog",
            "Rakk",
            "Valk",
            "Tervis",
            "Ensüüm",
            "Medix",
            "Biomark",
            "Cellvia",
            "Proteo",
            "Diagno",
            "Vitaal",
        ],
    },
}
SUFFIXES = ["OÜ", "AS", "Labs OÜ", "Tech OÜ", "Systems AS", "Solutions OÜ"]
STREETS = ["Mäealuse", "Akadeemia tee", "Teaduspargi", "Ülikooli"]
FIRST = ["Mari", "Jaan", "Kadri", "Tõnu", "Liis", "Andres"]
LAST = ["Tamm", "Saar", "Kask", "Mets", "Ilves", "Rebane"]


def registrikood(rng: random.Random) -> str:
    """An Estonian registry code with its check digit, as the registry requires."""
    base = f"1{rng.randint(100_000, 999_999)}"
    return base + calc_check_digit(base + "0")


def demo_smes(seed: int = 2009) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    smes: list[dict[str, Any]] = []
    for cluster, spec in CLUSTERS.items():
        for index, stem in enumerate(spec["names"]):
            founded = date(rng.randint(2008, 2024), rng.randint(1, 12), 1)
            start = rng.randint(4, 60)
            growth = rng.choice([0.02, 0.08, 0.15, 0.25, 0.4])
            figures = []
            for year in range(max(founded.year, 2021), 2026):
                staff = round(start * (1 + growth) ** (year - 2021), 1)
                figures.append(
                    {
                        "year": year,
                        "staff_headcount": staff,
                        "turnover_eur": str(round(staff * rng.randint(60_000, 140_000), -3)),
                        "balance_sheet_eur": str(round(staff * rng.randint(30_000, 90_000), -3)),
                        "export_share": str(round(rng.uniform(0.1, 0.9), 2)),
                    }
                )
            name = f"{stem} {rng.choice(SUFFIXES)}"
            words = rng.sample(spec["words"], 3)
            smes.append(
                {
                    "legal_name": name,
                    "registration_number": registrikood(rng),
                    "country": "EE",
                    "address": f"{rng.choice(STREETS)} {rng.randint(1, 40)}, Tallinn",
                    "website": f"https://{stem.lower().replace('ü', 'u')}{index}.example.ee",
                    "founded_on": founded.isoformat(),
                    "nace_codes": [rng.choice(spec["nace"])],
                    "clusters": [cluster],
                    "keywords": words,
                    "description": f"{name} builds {words[0]} and {words[1]} for customers in the "
                    "Baltic Sea Region and beyond.",
                    "figures": figures,
                    "share_with_network": rng.random() < 0.8,
                    "contacts": [
                        {
                            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            "role": rng.choice(["CEO", "CTO", "Head of sales"]),
                            "email": f"contact{index}@{stem.lower().replace('ü', 'u')}.example.ee",
                            "language": rng.choice(["et", "en"]),
                            "consent_contact": True,
                            "consent_share_network": rng.random() < 0.7,
                        }
                    ],
                }
            )
    return smes
