"""Importing SMEs from a file: memory while reading a large CSV, and rows per second through the
bus, the rows several at a time (as `mapnet registry import` sends them) and one at a time.

    python -m bench.importer [--read-rows 300000] [--import-rows 3000]

Reading runs in a process of its own so that its peak memory is the reader's alone. Last line:
file_mb=… read_rows=… peak_rss_mb=… imported_per_s=… one_by_one_per_s=…"""

from __future__ import annotations

import argparse
import asyncio
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stdnum.ee.registrikood import calc_check_digit

from bench.common import REGION, embedded_servers, figures, serving
from contracts import registry as c
from contracts.registry_file import command_id
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from services.registry.entrypoints.loader import read_rows

COLUMNS = ["legal_name", "registration_number", "country", "nace_codes", "clusters",
           "keywords", "description", "founded_on", "figure_year", "staff_headcount",
           "turnover_eur"]  # fmt: skip


def write_file(path: Path, rows: int, offset: int = 0) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(offset, offset + rows):
            number = f"1{i:06d}"
            writer.writerow([f"Import Company {i} OÜ", number + calc_check_digit(number + "0"),
                             "EE", "62.01;63.11", "ict", "saas;cloud",
                             "Software for the export of small firms", "2019-03-01", "2025", "14",
                             "1200000"])  # fmt: skip


def peak_of_reading(path: Path) -> tuple[int, float]:
    """Rows read and the peak resident memory (MB) of a process that only reads the file."""
    code = (
        "import resource, sys; from pathlib import Path;"
        "from services.registry.entrypoints.loader import read_rows;"
        "n = sum(1 for _ in read_rows(Path(sys.argv[1])));"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True)  # fmt: skip
    rows, peak = out.stdout.split()
    return int(rows), float(peak)


async def imported_per_s(nats_url: str, path: Path, in_flight: int) -> float:
    client = await BusClient.connect(nats_url, source="mapnet/bench-import", timeout_s=60)
    started = time.perf_counter()

    async def register(row: importer.Row) -> str:
        sme = c.RegisterSme.model_validate(row)
        view = await client.call(c.REGISTER_SME, sme, REGION, id=command_id(sme))
        return view.sme_id

    report = await importer.load(read_rows(path), register, in_flight=in_flight)
    elapsed = time.perf_counter() - started
    await client.close()
    assert not report.rejected, report.rejected[:3]
    return len(report.loaded) / elapsed


async def main(read_count: int, import_count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mapnet-import-") as tmp:
        big = Path(tmp) / "big.csv"
        write_file(big, read_count)
        file_mb = big.stat().st_size / 2**20
        rows, peak = peak_of_reading(big)
        print(figures(file_mb=f"{file_mb:.0f}", read_rows=rows, reader_peak_rss_mb=f"{peak:.0f}"))
        many, few = Path(tmp) / "many.csv", Path(tmp) / "few.csv"
        write_file(many, import_count)
        write_file(few, import_count // 3, offset=import_count)
        with embedded_servers() as (nats_url, mongo_url):
            async with serving("registry", nats_url, mongo_url, Path(tmp)):
                side_by_side = await imported_per_s(nats_url, many, importer.IN_FLIGHT)
                one_by_one = await imported_per_s(nats_url, few, 1)
    print(
        figures(
            file_mb=f"{file_mb:.0f}",
            read_rows=rows,
            peak_rss_mb=f"{peak:.0f}",
            imported_per_s=f"{side_by_side:.0f}",
            one_by_one_per_s=f"{one_by_one:.0f}",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--read-rows", type=int, default=300_000)
    parser.add_argument("--import-rows", type=int, default=3_000)
    args = parser.parse_args()
    asyncio.run(main(args.read_rows, args.import_rows))
