"""Imports read files the way people save them and fail like tools, not programs: other
encodings, huge cells, deep nesting and bad rows are reported with their line, as they are met,
while the other rows go on, several at a time. The bus is not needed here: ``load`` takes the
function that sends one row (the services' import tests send through real servers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.errors import Refused
from mapnet.runtime import importer

HEADER = "legal_name,registration_number,country\n"


def rows_of(path: Path, notes: list[str] | None = None) -> list[Any]:
    return list(importer.read_rows(path, notes=notes))


def test_latin1_and_utf16_files_are_read_and_said_so(tmp_path: Path) -> None:
    text = HEADER + "Põhja Tööstus OÜ,14000009,EE\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("cp1252"))
    notes: list[str] = []
    assert rows_of(latin, notes)[0][1]["legal_name"] == "Põhja Tööstus OÜ"
    assert "Windows-1252" in notes[0]
    wide = tmp_path / "wide.csv"
    wide.write_bytes(text.encode("utf-16"))
    assert rows_of(wide)[0][1]["legal_name"] == "Põhja Tööstus OÜ"
    plain = tmp_path / "plain.csv"
    plain.write_text(text, encoding="utf-8")
    notes = []
    row = {"legal_name": "Põhja Tööstus OÜ", "registration_number": "14000009", "country": "EE"}
    assert rows_of(plain, notes)[0] == (2, row)
    assert notes == []


def test_a_huge_cell_or_a_row_too_wide_is_reported_and_the_next_row_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(HEADER + f"{'x' * 200_000},1,EE\n" + "A,1,EE,extra\n" + "Fine OÜ,14000009,EE\n")
    found = rows_of(path)
    assert [line for line, _ in found] == [2, 3, 4]
    assert isinstance(found[0][1], str) and "cannot be read" in found[0][1]
    assert isinstance(found[1][1], str) and "header names 3" in found[1][1]
    assert found[2][1]["legal_name"] == "Fine OÜ"


def test_json_lists_are_read_item_by_item_and_deep_nesting_is_a_message(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(f'[{{"legal_name": "A"}}, 7, {deep}]')
    found = rows_of(path)
    assert found[0] == (1, {"legal_name": "A"}) and found[1] == (2, "item 2 is not an object")
    assert found[2][0] == 3 and "nested too deeply" in str(found[2][1])
    # Records longer than a chunk, and split across chunks, still come out whole.
    many = [{"legal_name": f"Company {i}", "description": "y" * (i * 700)} for i in range(200)]
    path.write_text(json.dumps(many, indent=2))
    assert [row for _, row in rows_of(path)] == many
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"legal_name": "A"}\n\n[1]\n{oops\n')
    assert [line for line, _ in rows_of(lines)] == [1, 3, 4]


def test_bad_rows_are_reported_as_they_are_met_while_rows_go_out_side_by_side() -> None:
    heard: list[int] = []
    in_flight = busiest = 0

    async def send(row: dict[str, Any]) -> str:
        nonlocal in_flight, busiest
        in_flight += 1
        busiest = max(busiest, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        if row.get("bad"):
            raise Refused("validation_failed", "bad row", fields=[
                {"field": "data.country", "message": "not a country", "type": "x"}])  # fmt: skip
        return f"id-{row['n']}"

    def rows() -> Any:
        yield 1, "this line could not be read"
        for n in range(2, 60):
            # The rejection of line 1 was printed before the last rows were even read.
            if n == 59:
                assert 1 in heard
            yield n, {"n": n, "bad": n == 30}

    report = asyncio.run(importer.load(rows(), send, rejected=lambda line, _: heard.append(line)))
    assert busiest > 1
    assert [line for line, _ in report.rejected] == [1, 30] == sorted(heard)
    assert "data.country: not a country" in report.rejected[1][1]
    assert len(report.loaded) == 57 and report.loaded[0] == (2, "id-2")


def test_the_report_does_not_grow_with_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of any size takes little memory: the report counts every row but keeps only the
    first KEPT loaded and rejected (every rejection was told as it was met)."""
    monkeypatch.setattr(importer, "KEPT", 5)
    heard: list[int] = []

    async def send(row: dict[str, Any]) -> str:
        if row["n"] % 2:
            raise Refused("validation_failed", "odd row")
        return f"id-{row['n']}"

    rows = ((n, {"n": n}) for n in range(1, 101))
    report = asyncio.run(importer.load(rows, send, rejected=lambda line, _: heard.append(line)))
    assert (report.loaded_count, report.rejected_count, len(heard)) == (50, 50, 50)
    assert [line for line, _ in report.loaded] == [2, 4, 6, 8, 10]
    assert [line for line, _ in report.rejected] == [1, 3, 5, 7, 9]


def test_rows_go_in_batches_each_row_reported_as_one_by_one() -> None:
    """load_in_batches (register_smes): batches of at most batch_rows rows and batch_bytes of
    them, several in flight; a row bad before sending is reported at once, a row its batch's
    answer refuses and every row of a batch refused as a whole are reported with their line,
    as ``load`` reports them, and the progress moves once per row."""
    sent: list[list[int]] = []
    in_flight = busiest = 0
    moved = 0

    def prepare(row: dict[str, Any]) -> dict[str, Any]:
        if row.get("bad"):
            raise Refused("validation_failed", "bad row", fields=[
                {"field": "data.country", "message": "not a country", "type": "x"}])  # fmt: skip
        return row

    async def send(batch: list[dict[str, Any]]) -> list[importer.RowFate]:
        nonlocal in_flight, busiest
        sent.append([row["n"] for row in batch])
        in_flight += 1
        busiest = max(busiest, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        if any(row["n"] == 77 for row in batch):
            raise Refused("region_unavailable", "nobody answers", reason="no_responders")
        return [Refused("duplicate", "taken", existing_sme_id="x") if row["n"] == 40
                else f"id-{row['n']}" for row in batch]  # fmt: skip

    def progress() -> None:
        nonlocal moved
        moved += 1

    rows = [(n, {"n": n, "bad": n == 30, "big": n == 50}) for n in range(1, 101)]
    report = asyncio.run(importer.load_in_batches(
        rows, prepare, send, progress, size=lambda row: 1000 if row["big"] else 1,
        batch_rows=10, batch_bytes=1005,
    ))  # fmt: skip
    assert busiest > 1 and moved == 100
    assert all(len(batch) <= 10 for batch in sent)
    # The batches beside the big row were closed before they held more than batch_bytes.
    assert next(b for b in sent if 50 in b) == [50, 51, 52, 53, 54, 55]
    assert 30 not in [n for batch in sent for n in batch]
    batch_of_77 = next(b for b in sent if 77 in b)
    rejected = dict(report.rejected)
    assert sorted(rejected) == sorted([30, 40, *batch_of_77])
    assert "data.country: not a country" in rejected[30]
    assert rejected[40].startswith("duplicate: taken existing_sme_id=x")
    assert rejected[77].startswith("region_unavailable")
    assert report.loaded_count == 100 - len(rejected) and report.loaded[0] == (1, "id-1")


def test_a_batch_unanswered_in_time_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio, "sleep", _no_wait)
    tries: list[int] = []

    async def send() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise Refused("region_unavailable", "no answer", reason="timeout")
        if len(tries) == 2:
            raise Refused("conflict", "a command with this id is still running")
        if len(tries) == 3:
            raise Refused("internal", "_OperationCancelled while handling register_smes")
        return "answered"

    monkeypatch.setattr(importer, "BATCH_ATTEMPTS", 4)
    assert asyncio.run(importer.sent_again_if_unanswered(send)) == "answered"
    assert len(tries) == 4

    async def refused() -> str:
        tries.append(1)
        raise Refused("forbidden", "not you")

    tries.clear()
    with pytest.raises(Refused):
        asyncio.run(importer.sent_again_if_unanswered(refused))
    assert len(tries) == 1


async def _no_wait(_: float) -> None:
    return None


def test_csv_that_mapnet_writes_runs_no_formula() -> None:
    import csv
    import io

    from mapnet.runtime.spreadsheet import write_csv

    out = io.StringIO()
    hostile = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "Plain OÜ"]
    write_csv(out, ["name", "staff"], [(text, -3) for text in hostile])
    cells = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert [name for name, _ in cells] == ["'" + text for text in hostile[:5]] + ["Plain OÜ"]
    assert {staff for _, staff in cells} == {"-3"}  # a number stays a number
