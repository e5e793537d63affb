"""Offsets the SQLite local-time SQL relies on, and small pure helpers of the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from hotline.dashboard.stats import charts
from hotline.dashboard.web.audit import scrub
from hotline.localtime_sql import offsets


def test_almaty_changed_from_utc_plus_6_to_plus_5_in_2024():
    segments = offsets(
        ZoneInfo("Asia/Almaty"), datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    )
    assert [minutes for _, minutes in segments] == [360, 300]
    assert segments[1][0] == datetime(2024, 2, 29, 18, 0, tzinfo=UTC)


def test_a_zone_with_summer_time_gets_both_changes_of_the_year():
    segments = offsets(
        ZoneInfo("Europe/Berlin"),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert [minutes for _, minutes in segments] == [60, 120, 60]
    assert [start for start, _ in segments[1:]] == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    ]


def test_chart_labels_are_escaped():
    svg = charts.horizontal_bars([("<script>x</script>", 3, "#000")], "t<")
    assert isinstance(svg, Markup)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_axis_top_is_a_round_number():
    assert [charts.nice_max(v) for v in (0, 1, 3, 7, 12, 180, 501)] == [1, 1, 5, 10, 20, 200, 1000]


def test_audit_details_lose_anything_like_a_phone_number_but_keep_dates():
    assert scrub("from=2026-03-01 to=2026-03-31") == "from=2026-03-01 to=2026-03-31"
    assert scrub("called 8 701 123 45 67 back") == "called [number] back"
    assert scrub("+77011234567") == "[number]"
    assert scrub("7011234567") == "[number]"
