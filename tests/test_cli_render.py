"""cli.render: what every listing and record of cmpctl prints, with and without --json."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from cli.render import Column, render, render_record, when

BERLIN_WINTER = timezone(timedelta(hours=1))
ROWS = [
    {"id": 7, "name": "[bold]not markup[/bold]", "records": 1234567, "at": datetime(2026, 12, 6, 21, 46, 11, tzinfo=BERLIN_WINTER),
     "error": None, "amount": Decimal("10.50")},
    {"id": 8, "name": "second", "records": 0, "at": None, "error": "[Errno 111] Connection refused",
     "amount": Decimal("0")},
]
COLUMNS = (Column("id", "id"), Column("name", "name"), Column("records", "records", count=True),
           Column("at", "at"), Column("error", "error"), Column("twice", lambda r: r["records"] * 2, count=True))


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich reads it when it measures the (captured) terminal


def test_json_is_one_document_on_stdout_with_iso_times(capsys):
    render(ROWS, COLUMNS, True)
    captured = capsys.readouterr()
    assert captured.err == ""
    doc = json.loads(captured.out)  # the whole of stdout is one document
    assert doc[0]["at"] == "2026-12-06T20:46:11+00:00"  # ISO 8601, in UTC
    assert doc[1]["at"] is None and doc[0]["error"] is None
    assert doc[0]["records"] == 1234567 and doc[0]["amount"] == "10.50"  # exact, not a float
    assert doc[0]["name"] == "[bold]not markup[/bold]"
    assert set(doc[0]) == set(ROWS[0])  # every field, not only the table's columns


def test_an_empty_listing_is_an_empty_json_array(capsys):
    render([], COLUMNS, True)
    assert json.loads(capsys.readouterr().out) == []


def test_table_shows_utc_times_counts_and_literal_text(capsys):
    render(ROWS, COLUMNS, False, title="things")
    text = capsys.readouterr().out
    assert "things" in text
    for header in ("id", "name", "records", "at", "error", "twice"):
        assert header in text
    assert "2026-12-06 20:46:11Z" in text  # the one human time format: UTC
    assert "1,234,567" in text and "2,469,134" in text
    assert "[bold]not markup[/bold]" in text  # rich markup in data is shown, not interpreted
    assert "[Errno 111] Connection refused" in text
    assert text.count(" - ") >= 2  # missing time and missing error


def test_record_lists_fields_in_order_and_leaves_out_empty_ones(capsys):
    doc = {"execution_id": 3, "job": "provisioning", "error": None, "params": {"batch": "2"}, "result": {},
           "started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "day": date(2026, 1, 31)}
    render_record(doc, False, fields=("job", "execution_id", "error", "params", "result", "started_at", "day"))
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["job            provisioning", "execution_id   3", 'params         {"batch": "2"}',
                     "started_at     2026-01-02 03:04:05Z", "day            2026-01-31"]
    render_record(doc, True, fields=("job",))
    assert json.loads(capsys.readouterr().out)["error"] is None  # JSON: the whole record


def test_when_reads_naive_times_as_utc():
    assert when(datetime(2026, 6, 1, 12, 0, 0)) == "2026-06-01 12:00:00Z"
    assert when(None) == "-"
