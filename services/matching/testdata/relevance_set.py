"""A small hand-labelled set for partner search: invented cooperation profiles across the seed's
clusters, seekers, and for each seeker the profiles a MAP coach judged good partners. Tests keep
precision at 5 from dropping unnoticed; bench/search.py reports it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

# id, region, country, type, title, summary, keywords, NACE, clusters
PROFILES: list[tuple[str, str, str, str, str, str, str, str, str]] = [
    ("ph1", "berlin", "DE", "technology_offer", "Femtosecond laser for glass cutting",
     "Ultrafast laser source cutting thin glass and sapphire without cracks", "laser;glass",
     "26.70", "photonics"),
    ("ph2", "helsinki", "FI", "technology_offer", "Laser micro-machining of medical tubes",
     "Picosecond laser processing of stents and catheters", "laser;medical devices",
     "28.41", "photonics"),
    ("ph3", "riga", "LV", "business_request", "Distributors for optical sensors",
     "We look for distributors of fibre optic sensors in the Nordics", "sensors;distribution",
     "26.51", "photonics"),
    ("ph4", "stockholm", "SE", "technology_request", "Lidar for autonomous ships",
     "Need a long-range lidar that works at sea", "lidar;maritime", "26.70", "photonics"),
    ("ph5", "warsaw", "PL", "technology_offer", "Long-range lidar modules",
     "Solid-state lidar modules with 300 m range for vehicles and vessels", "lidar;sensors",
     "26.70", "photonics"),
    ("ict1", "helsinki", "FI", "technology_offer", "Cyber security monitoring for SMEs",
     "Managed detection and response for small companies", "cyber security;saas",
     "62.02", "ict"),
    ("ict2", "vilnius", "LT", "business_offer", "Fintech payment platform white label",
     "Payment platform for banks and retailers, licensed in the EU", "fintech;payments",
     "62.01", "ict"),
    ("ict3", "oslo", "NO", "business_request", "Payment provider for our marketplace",
     "A marketplace looks for a white-label payment platform", "payments;marketplace",
     "47.91", "ict"),
    ("ict4", "copenhagen", "DK", "technology_request", "Intrusion detection for hospital IT",
     "Hospital group seeks cyber security monitoring of its networks", "cyber security;e-health",
     "86.10", "life-sciences"),
    ("ict5", "berlin", "DE", "business_offer", "E-government consulting",
     "Digital public services design and delivery", "e-government", "70.22", "ict"),
    ("ls1", "stockholm", "SE", "technology_offer", "Rapid diagnostic test for sepsis",
     "Point-of-care test that detects sepsis in 20 minutes", "diagnostics;sepsis",
     "21.20", "life-sciences"),
    ("ls2", "tallinn", "EE", "rd_request", "Biomarkers for early sepsis",
     "Research partner wanted to validate sepsis biomarkers in clinics", "sepsis;biomarkers",
     "72.11", "life-sciences"),
    ("ls3", "riga", "LV", "business_request", "Distributor for diagnostic kits",
     "Looking for distributors of diagnostic kits in Germany and Poland",
     "diagnostics;distribution", "46.46", "life-sciences"),
    ("ls4", "warsaw", "PL", "business_offer", "Medical device distribution in Poland",
     "We distribute diagnostics and medical devices to Polish hospitals",
     "distribution;diagnostics", "46.46", "life-sciences"),
    ("ct1", "copenhagen", "DK", "technology_offer", "Water purification membranes",
     "Graphene oxide membranes for drinking water", "water;membranes", "20.59", "cleantech"),
    ("ct2", "tallinn", "EE", "technology_request", "Membranes for industrial water reuse",
     "Food plant seeks membrane technology to reuse process water", "water;reuse",
     "10.51", "cleantech"),
    ("ct3", "oslo", "NO", "technology_offer", "Battery storage for ferries",
     "Marine battery systems for electric ferries", "batteries;maritime", "27.20", "cleantech"),
    ("ct4", "helsinki", "FI", "technology_request", "Energy storage for a harbour microgrid",
     "Harbour seeks battery storage for its microgrid", "batteries;energy", "35.11",
     "cleantech"),
    ("fd1", "vilnius", "LT", "business_offer", "Organic berry snacks for export",
     "Freeze-dried berry snacks, organic certified", "food;berries", "10.39", ""),
    ("fd2", "stockholm", "SE", "business_request", "Supplier of organic snacks",
     "Retail chain seeks organic snack suppliers from the Baltics", "food;retail", "47.11", ""),
]  # fmt: skip

# seeker id → the profiles a coach would introduce it to
RELEVANT: dict[str, set[str]] = {
    "ph4": {"ph5"},
    "ict3": {"ict2"},
    "ict4": {"ict1"},
    "ls2": {"ls1"},
    "ls3": {"ls4"},
    "ct2": {"ct1"},
    "ct4": {"ct3"},
    "fd2": {"fd1"},
}


def profile_docs(today: date | None = None) -> list[dict[str, Any]]:
    expires = ((today or date.today()) + timedelta(days=365)).isoformat()
    docs = []
    for pid, region, country, kind, title, summary, keywords, nace, clusters in PROFILES:
        sme = {
            "sme_id": f"sme-{pid}",
            "region": region,
            "legal_name": f"{title.split()[0]} {pid.upper()}",
            "country": country,
            "nace_codes": [nace],
            "clusters": [clusters] if clusters else [],
            "keywords": keywords.split(";"),
            "size_class": "small",
            "share_with_network": True,
        }
        profile = {
            "profile_id": pid,
            "type": kind,
            "title": title,
            "summary": summary,
            "keywords": keywords.split(";"),
            "nace_codes": [nace],
            "status": "published",
            "visibility": "network",
            "expires_on": expires,
        }
        docs.append({"_id": pid, "sme_key": f"{region}:sme-{pid}", "sme": sme, "profile": profile})
    return docs
