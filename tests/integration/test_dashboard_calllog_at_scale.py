"""The call log with many records: no unbounded count per page, and a CSV export that streams in
flat memory (a chunk of rows at a time, the first rows sent long before the last are read)."""

from __future__ import annotations

import csv
import io
import secrets
import tracemalloc
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, text
from test_dashboard_support import clock, dash, db, people

from hotline.dashboard.calls import query as calllog_query
from hotline.models import CallRecord

FIXTURES = (clock, dash, db, people)
START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def seed(db, calls: int, first: int = 0) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "call_sid": "CA" + secrets.token_hex(16),
            "caller_key": None,
            "language": "ru",
            "topic": "violence" if n % 3 else "labor",
            "ivr_path": ["greeting", "language:2", "topic:1"],
            "outcome": "connected",
            "started_at": START + timedelta(seconds=first + n),
            "ended_at": START + timedelta(seconds=first + n + 300),
        }
        for n in range(calls)
    ]
    db.execute(insert(CallRecord), rows)
    db.commit()
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ANALYZE call_records"))  # the planner's estimate knows the rows
        db.commit()


def test_past_the_cap_the_call_log_pages_on_without_counting_every_row(
    app, dash, db, people, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(calllog_query, "COUNT_CAP", 120)
    seed(db, 400)
    statements: list[str] = []
    engine = app.extensions["db"].engine
    note = lambda _c, _cur, statement, *_: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", note)
    try:
        dash.login("boss")
        first = dash.client.get("/dashboard/calls")
        eighth = dash.client.get("/dashboard/calls?page=8")
        topic = dash.client.get("/dashboard/calls?topic=labor&page=2")
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert first.status_code == eighth.status_code == topic.status_code == 200
    assert first.text.count('href="/dashboard/calls/') == 50
    assert eighth.text.count('href="/dashboard/calls/') == 50
    assert topic.text.count('href="/dashboard/calls/') == 50
    counts = [s for s in statements if "count(" in s.lower()]
    if engine.dialect.name == "postgresql":
        # Each count reads at most COUNT_CAP + 1 rows; the total shown is the planner's estimate.
        assert counts and all("LIMIT" in s.upper() for s in counts)
        assert "≈ 400 calls" in first.text
        assert "Page 8 of ≈ 8" in eighth.text and "Next →</a>" in eighth.text
    else:
        assert "400 calls" in first.text and "≈" not in first.text  # SQLite counts exactly
    assert "Page 1 of" in first.text


def _export_peak(dash) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(peak traced bytes, rows, bytes sent) while streaming the whole CSV export."""
    tracemalloc.start()
    try:
        response = dash.client.get("/dashboard/calls.csv", buffered=False)
        sent, lines = 0, []
        for piece in response.response:
            text_piece = piece.decode() if isinstance(piece, bytes) else piece
            sent += len(text_piece)
            if len(lines) < 3:
                lines.append(text_piece)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows = list(csv.reader(io.StringIO("".join(lines).lstrip("\ufeff"))))
    return peak, len(rows), sent


def test_a_csv_export_ten_times_larger_needs_about_the_same_memory(dash, db, people):  # type: ignore[no-untyped-def]
    dash.login("boss")
    seed(db, 3_000)
    small_peak, _, small_sent = _export_peak(dash)
    seed(db, 27_000, first=3_000)
    large_peak, first_rows, large_sent = _export_peak(dash)
    assert large_sent > 8 * small_sent  # ten times the rows went out...
    assert first_rows > 100  # (the first pieces already held rows)
    # ...with the memory of a chunk or two, not of the export.
    assert large_peak < 1.5 * small_peak + 512 * 1024, (small_peak, large_peak)
