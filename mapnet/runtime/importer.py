"""Bulk loading through the bus, shared by `mapnet registry import` and `mapnet events import`.

Rows are streamed from CSV, JSON (a list of records) or JSON Lines with their line numbers, so a
file of any size is read in bounded memory. Each row becomes one command; a few are in flight
at once. Every row that cannot be loaded is reported the moment it is met, with its line, the
field at fault and the reason, never skipped silently; a row that cannot even be read (a cell
too long, an item nested too deep) is such a report too, not a traceback."""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from contracts.errors import Refused
from mapnet.runtime.bus import BusClient

Row = dict[str, Any]
RowOrProblem = tuple[int, Row | str]

# Commands in flight at once: enough to keep the region busy, few enough that a failing
# region is noticed within a handful of rows.
IN_FLIGHT = 16
# The longest JSON record taken; a longer one is reported, not read into memory.
MAX_RECORD_CHARS = 1_000_000
_CHUNK = 1 << 16


# The loaded and rejected rows a report keeps, the first met of each: its size does not grow
# with the file. Every rejected row is also told to ``rejected`` the moment it is met.
KEPT = 1000


@dataclass
class Report:
    """How many rows were loaded and rejected; ``loaded`` (line, id) and ``rejected`` (line,
    reason) keep only the first ``KEPT`` of each to finish, in order of line."""

    loaded: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loaded_count: int = 0
    rejected_count: int = 0

    def add_loaded(self, line: int, record_id: str) -> None:
        self.loaded_count += 1
        if len(self.loaded) < KEPT:
            self.loaded.append((line, record_id))

    def add_rejected(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEPT:
            self.rejected.append((line, reason))

    def rejecting(self, told: Callable[[int, str], Any] | None) -> Callable[[int, str], None]:
        """A bad row's handling: counted here, and ``told`` (the progress display) at once."""

        def reject(line: int, reason: str) -> None:
            self.add_rejected(line, reason)
            if told:
                told(line, reason)

        return reject


def split_lists(row: Row, columns: Iterable[str]) -> Row:
    """CSV cells holding lists are separated by semicolons."""
    for column in columns:
        if isinstance(row.get(column), str):
            row[column] = [part.strip() for part in row[column].split(";") if part.strip()]
    return row


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The file's encoding, and a note when it is not the UTF-8 MAPnet expects: a byte-order
    mark names UTF-8 or UTF-16/32; text that is not valid UTF-8 is read as Windows-1252 (which
    covers Latin-1), the usual export of older spreadsheets."""
    with path.open("rb") as handle:
        head = handle.read(4)
        for mark, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                           (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                           (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
            if head.startswith(mark):
                return name, None if name == "utf-8-sig" else f"read as {name.upper()}"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252", "not UTF-8: read as Windows-1252 (Latin-1); save as UTF-8 to be sure"
    return "utf-8", None


def read_rows(
    path: Path, shape_csv_row: Callable[[Row], Row] = lambda r: r, notes: list[str] | None = None
) -> Iterator[RowOrProblem]:
    """(line, row) for each record, read as it is needed; a record that cannot be read is
    (line, message) instead. What was assumed about the file goes to ``notes``."""
    encoding, note = detect_encoding(path)
    if note and notes is not None:
        notes.append(note)
    suffix = path.suffix.lower()
    with path.open(newline="", encoding=encoding, errors="replace") as handle:
        if suffix == ".json":
            yield from _json_records(handle)
        elif suffix in (".jsonl", ".ndjson"):
            yield from _json_lines(handle)
        else:
            yield from _csv_records(handle, shape_csv_row)


def _csv_records(handle: IO[str], shape: Callable[[Row], Row]) -> Iterator[RowOrProblem]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, f"the header cannot be read: {exc}"
        return
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell longer than the csv module's 128 KB limit
            yield first_line, f"the row cannot be read: {exc}"
            continue
        if len(cells) > len(header):
            yield first_line, f"{len(cells)} cells, but the header names {len(header)} columns"
            continue
        row = {name: value for name, value in zip(header, cells, strict=False) if name and value}
        yield first_line, shape(row)


def _record(line: int, value: Any, noun: str) -> RowOrProblem:
    return line, value if isinstance(value, dict) else f"{noun} {line} is not an object"


def _json_lines(handle: IO[str]) -> Iterator[RowOrProblem]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        if len(text) > MAX_RECORD_CHARS:
            yield line, f"longer than {MAX_RECORD_CHARS} characters"
            continue
        try:
            yield _record(line, json.loads(text), "line")
        except RecursionError:
            yield line, "nested too deeply to be read"
        except ValueError as exc:
            yield line, f"not JSON: {exc}"


def _json_records(handle: IO[str]) -> Iterator[RowOrProblem]:
    """The items of a JSON list one by one (numbered from 1), without reading the whole list."""
    decoder = json.JSONDecoder()
    text, at, index, at_end = "", 0, 0, False

    def more() -> bool:
        nonlocal text, at, at_end
        chunk = handle.read(_CHUNK)
        text, at, at_end = text[at:] + chunk, 0, not chunk
        return bool(chunk)

    def skip_space() -> str:
        nonlocal at
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at < len(text) or not more():
                return text[at] if at < len(text) else ""

    if skip_space() != "[":
        yield 1, "not a JSON list of records: a JSON import is [ {…}, {…} ]"
        return
    at += 1
    while True:
        mark = skip_space()
        if mark == "]":
            return
        if index and mark != ",":
            yield (
                index,
                f"after record {index}: expected ',' or ']'" if mark else "the list ends early",
            )
            return
        if index:
            at += 1
            skip_space()
        index += 1
        while True:
            try:
                value, end = decoder.raw_decode(text, at)
                break
            except RecursionError:
                yield index, "nested too deeply to be read"
                return
            except ValueError as exc:
                if len(text) - at > MAX_RECORD_CHARS:
                    yield index, f"longer than {MAX_RECORD_CHARS} characters"
                    return
                if at_end or not more():
                    yield index, f"not JSON: {exc.args[0]}"
                    return
        at = end
        yield _record(index, value, "item")


def describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def _refusal(refusal: Refused) -> str:
    detail = ", ".join(f"{k}={v}" for k, v in refusal.details.items() if k != "fields")
    fields = "; ".join(f"{f['field']}: {f['message']}" for f in refusal.details.get("fields", []))
    return f"{refusal.code}: {refusal.message} {fields or detail}".strip()


async def load(
    rows: Iterable[RowOrProblem],
    send: Callable[[Row], Awaitable[str]],
    progress: Callable[[], Any] | None = None,
    rejected: Callable[[int, str], Any] | None = None,
    in_flight: int = IN_FLIGHT,
) -> Report:
    """``send`` validates one row, sends its command and returns the id of what it loaded.
    Rows go out ``in_flight`` at a time; ``rejected`` hears of each bad row as it is met."""
    report = Report()
    free = asyncio.Semaphore(in_flight)
    reject = report.rejecting(rejected)

    async def one(line: int, row: Row) -> None:
        try:
            report.add_loaded(line, await send(row))
        except ValidationError as exc:
            reject(line, describe(exc))
        except Refused as refusal:
            reject(line, _refusal(refusal))
        finally:
            free.release()
            if progress:
                progress()

    async with asyncio.TaskGroup() as group:
        for line, row in rows:
            if isinstance(row, str):
                reject(line, row)
                if progress:
                    progress()
                continue
            await free.acquire()
            group.create_task(one(line, row))
    report.loaded.sort()
    report.rejected.sort()
    return report


# Rows per batch command (register_smes): measured with bench/registry_size.py, a batch of
# 200 shares a command's fixed cost (envelope, access check, reply cache claim, audit entry)
# among 200 rows. A batch is also closed at BATCH_BYTES of rows, well inside a NATS message.
BATCH_ROWS = 200
BATCH_BYTES = 256 * 1024
# Batches in flight at once: one being written while the next is checked and built.
BATCHES_IN_FLIGHT = 4
# How long a batch may take to be answered, and how often one that was not is sent again
# (the same batch: its id makes the repeat harmless, answered from the first's work).
BATCH_TIMEOUT_S = 60.0
BATCH_ATTEMPTS = 5

Item = TypeVar("Item")
# One row's fate in a batch's answer: the id of what it loaded, or why it was refused.
RowFate = str | Refused


async def load_in_batches(
    rows: Iterable[RowOrProblem],
    prepare: Callable[[Row], Item],
    send: Callable[[list[Item]], Awaitable[list[RowFate]]],
    progress: Callable[[], Any] | None = None,
    rejected: Callable[[int, str], Any] | None = None,
    *,
    size: Callable[[Item], int] = lambda item: 0,
    batch_rows: int = BATCH_ROWS,
    batch_bytes: int = BATCH_BYTES,
    in_flight: int = BATCHES_IN_FLIGHT,
) -> Report:
    """As ``load``, with rows sent many to a command: ``prepare`` validates one row (raising
    ValidationError or Refused, reported at once, as ``load`` reports them) and ``send`` sends
    a batch of prepared rows and answers each row's fate, in order; a refusal of the whole
    batch is each of its rows' refusal. The report is ``load``'s, row for row."""
    report = Report()
    free = asyncio.Semaphore(in_flight)
    reject = report.rejecting(rejected)

    async def one_batch(lines: list[int], items: list[Item]) -> None:
        try:
            fates: list[RowFate] = await send(items)
        except Refused as refusal:
            fates = [refusal] * len(items)
        finally:
            free.release()
        for line, fate in zip(lines, fates, strict=True):
            if isinstance(fate, Refused):
                reject(line, _refusal(fate))
            else:
                report.add_loaded(line, fate)
            if progress:
                progress()

    async with asyncio.TaskGroup() as group:
        lines: list[int] = []
        items: list[Item] = []
        held = 0

        async def flush() -> None:
            nonlocal lines, items, held
            if items:
                await free.acquire()
                group.create_task(one_batch(lines, items))
            lines, items, held = [], [], 0

        for line, row in rows:
            problem: str | None = row if isinstance(row, str) else None
            if not isinstance(row, str):
                try:
                    item = prepare(row)
                except ValidationError as exc:
                    problem = describe(exc)
                except Refused as refusal:
                    problem = _refusal(refusal)
            if problem is not None:
                reject(line, problem)
                if progress:
                    progress()
                continue
            if items and held + size(item) > batch_bytes:
                await flush()
            lines.append(line)
            items.append(item)
            held += size(item)
            if len(items) >= batch_rows:
                await flush()
        await flush()
    report.loaded.sort()
    report.rejected.sort()
    return report


async def sent_again_if_unanswered(send: Callable[[], Awaitable[Item]]) -> Item:
    """A batch that got no answer in time, whose first sending is still running, or that
    failed in the service (internal) is sent again, the same batch, a few times before its
    rows are reported unloaded."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return await send()
        except Refused as refusal:
            unanswered = refusal.code == "region_unavailable" and (
                refusal.details.get("reason") == "timeout"
            )
            # internal: the service failed while handling it, and the same envelope may be
            # sent again (the rows it wrote before failing are then found as registered).
            again = unanswered or refusal.code in ("conflict", "internal")
            if attempt == BATCH_ATTEMPTS or not again:
                raise
            await asyncio.sleep(attempt)
    raise AssertionError("unreachable")


class Loader(Protocol):
    def __call__(
        self,
        client: BusClient,
        region: str,
        rows: Iterable[RowOrProblem],
        progress: Callable[[], Any] | None = None,
        rejected: Callable[[int, str], Any] | None = None,
    ) -> Awaitable[Report]: ...


def count_lines(path: Path) -> int | None:
    """About how many records a CSV or JSON Lines file holds (for the progress bar)."""
    if path.suffix.lower() == ".json":
        return None
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b""))


def run(
    nats_url: str,
    region: str,
    noun: str,
    rows: Iterable[RowOrProblem],
    loader: Loader,
    total: int | None = None,
    notes: list[str] | None = None,
) -> Report:
    """Run a loader with a progress bar on stderr; each rejected row is printed as it is met."""
    console = Console(stderr=True)

    def print_rejected(line: int, reason: str) -> None:
        console.print(f"[red]line {line}[/red]: {reason}", highlight=False)

    async def go() -> Report:
        client = await BusClient.connect(nats_url, region=region, source=f"mapnet/{region}/import")
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"loading {noun}", total=total)
                return await loader(
                    client, region, rows, lambda: progress.advance(task), print_rejected
                )
        finally:
            await client.close()

    report = asyncio.run(go())
    for note in notes or []:
        console.print(f"[yellow]note[/yellow]: {note}", highlight=False)
    console.print(f"{report.loaded_count} {noun} loaded, {report.rejected_count} rows rejected")
    return report
