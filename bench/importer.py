"""Importing SMEs from a file as a user does: `mapnet registry import FILE` against a region whose
registry runs in a process of its own. A CSV of --rows rows (one in a hundred bad, so that the
rejections are reported too) is imported whole; the figures are the peak memory of the command
and of the registry over the import, and rows per second. The same command on a file a tenth
the size gives the peak to compare: memory that did not grow with the file (and `mapnet --help`,
the peak of the command's imports alone).

Then rows per second one at a time (``importer.load`` with one row in flight), for comparison
with the 16 the command keeps in flight.

    python -m bench.importer [--rows 300000] [--one-by-one-rows 1000]

Last line: file_mb=… read_rows=… peak_rss_mb=… imported_per_s=… one_by_one_per_s=…
tenth_peak_rss_mb=… registry_peak_rss_mb=… rejected=…"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stdnum.ee.registrikood import calc_check_digit

from bench.common import REGION, embedded_servers, figures, peak_rss_mb, serving
from contracts import registry as c
from contracts.registry_file import command_id
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from services.registry.entrypoints.loader import read_rows

COLUMNS = ["legal_name", "registration_number", "country", "nace_codes", "clusters",
           "keywords", "description", "founded_on", "figure_year", "staff_headcount",
           "turnover_eur"]  # fmt: skip
BAD_EVERY = 100  # every hundredth row has a date that is not one


def bad(i: int) -> bool:
    return i % BAD_EVERY == BAD_EVERY - 1


def write_file(path: Path, rows: int, offset: int = 0) -> int:
    """``rows`` SMEs numbered from ``offset``; the number of bad rows among them."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(offset, offset + rows):
            number = f"1{i:06d}"
            writer.writerow([f"Import Company {i} OÜ", number + calc_check_digit(number + "0"),
                             "EE", "62.01;63.11", "ict", "saas;cloud",
                             "Software for the export of small firms",
                             "some day" if bad(i) else "2019-03-01", "2025", "14",
                             "1200000"])  # fmt: skip
    return sum(bad(i) for i in range(offset, offset + rows))


@dataclass
class Imported:
    loaded: int
    rejected: int
    seconds: float
    peak_rss_mb: float


def import_command(path: Path, env: dict[str, str], log: Path) -> Imported:
    """`mapnet registry import` in a process of its own, as a user runs it; its peak memory
    from the kernel's account of the finished process (``wait4``)."""
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapnet", "registry", "import", str(path), "--region", REGION],
            stdout=output, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    said = log.read_text(errors="replace")
    summary = re.search(r"(\d+) SMEs loaded, (\d+) rows rejected", said)
    # The command fails (1) when any row was rejected; anything else is a crash.
    if summary is None or process.returncode not in (0, 1):
        raise RuntimeError(f"the import failed ({process.returncode}):\n{said[-3000:]}")
    return Imported(int(summary[1]), int(summary[2]), seconds, usage.ru_maxrss / 1024)


def idle_command(env: dict[str, str]) -> float:
    """The peak memory of the command that does nothing (what its imports take), in MB."""
    process = subprocess.Popen([sys.executable, "-m", "mapnet", "--help"], env=env,
                               stdout=subprocess.DEVNULL)  # fmt: skip
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return usage.ru_maxrss / 1024


async def one_by_one_per_s(nats_url: str, path: Path) -> float:
    client = await BusClient.connect(nats_url, source="mapnet/bench-import", timeout_s=60)
    started = time.perf_counter()

    async def register(row: importer.Row) -> str:
        sme = c.RegisterSme.model_validate(row)
        view = await client.call(c.REGISTER_SME, sme, REGION, id=command_id(sme))
        return view.sme_id

    report = await importer.load(read_rows(path), register, in_flight=1)
    elapsed = time.perf_counter() - started
    await client.close()
    return report.loaded_count / elapsed


def expect(what: str, imported: Imported, rows: int, bad_rows: int) -> None:
    if (imported.loaded, imported.rejected) != (rows - bad_rows, bad_rows):
        raise SystemExit(
            f"{what}: {imported.loaded} loaded and {imported.rejected} rejected, "
            f"expected {rows - bad_rows} and {bad_rows}"
        )


async def main(rows: int, one_by_one_rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mapnet-import-") as tmp:
        home = Path(tmp)
        big, tenth, few = home / "big.csv", home / "tenth.csv", home / "few.csv"
        bad_big = write_file(big, rows)
        bad_tenth = write_file(tenth, rows // 10, offset=rows)
        write_file(few, one_by_one_rows, offset=rows + rows // 10)
        file_mb = big.stat().st_size / 2**20
        with embedded_servers() as (nats_url, mongo_url):
            async with serving("registry", nats_url, mongo_url, home) as registry:
                assert registry.pid is not None
                env = {**os.environ, "NATS_URL": nats_url, "MAPNET_REGIONS": REGION,
                       "MAPNET_HOME": str(home / "mapnet-home")}  # fmt: skip
                idle = await asyncio.to_thread(idle_command, env)
                print(f"`mapnet --help` alone: {idle:.1f} MB at the peak", flush=True)
                small = await asyncio.to_thread(import_command, tenth, env, home / "tenth.log")
                expect("the tenth", small, rows // 10, bad_tenth)
                print(f"{rows // 10} rows: {small.peak_rss_mb:.0f} MB at the peak, "
                      f"{small.seconds:.1f} s", flush=True)  # fmt: skip
                whole = await asyncio.to_thread(import_command, big, env, home / "big.log")
                expect("the file", whole, rows, bad_big)
                print(f"{rows} rows ({file_mb:.0f} MB): {whole.peak_rss_mb:.0f} MB at the peak, "
                      f"{whole.seconds:.1f} s", flush=True)  # fmt: skip
                registry_peak = peak_rss_mb(registry.pid)
                one_by_one = await one_by_one_per_s(nats_url, few)
    print(
        figures(
            file_mb=f"{file_mb:.0f}",
            read_rows=rows,
            peak_rss_mb=f"{whole.peak_rss_mb:.1f}",
            imported_per_s=f"{rows / whole.seconds:.0f}",
            one_by_one_per_s=f"{one_by_one:.0f}",
            tenth_peak_rss_mb=f"{small.peak_rss_mb:.1f}",
            registry_peak_rss_mb=f"{registry_peak:.1f}",
            rejected=whole.rejected,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--one-by-one-rows", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.one_by_one_rows))
