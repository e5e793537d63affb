"""Daily totals: counts only, kept after `hotline purge` deletes the records they came from.

One set of rows per local day (HOTLINE_TIMEZONE) once the day is closed (hotline.outcomes.
aggregates): no caller keys, no volunteer ids, no call ids. Topic and language are '' when the
caller chose none, '*' in the rows summed over every topic or language (all tables but
daily_calls, small enough to sum on reading). Statistics over long periods read these instead
of every call.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class ClosedDay(Base):
    """A local day whose totals are in the daily tables (rows for it exist only then)."""

    __tablename__ = "daily_closed_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyCalls(Base):
    __tablename__ = "daily_calls"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    asked: Mapped[int] = mapped_column(Integer)  # asked for a volunteer
    connected: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)


class DailyUnanswered(Base):
    """Unanswered calls by local hour: missed, and hung up while waiting."""

    __tablename__ = "daily_unanswered"
    # The statistics read one (topic, language) pair, sums included, over a range of days.
    __table_args__ = (Index("ix_daily_unanswered_topic_language_day", "topic", "language", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    missed: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)


class DailyWaits(Base):
    """How many connected calls waited each whole number of seconds (for the median wait)."""

    __tablename__ = "daily_waits"
    __table_args__ = (Index("ix_daily_waits_topic_language_day", "topic", "language", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    wait_seconds: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    calls: Mapped[int] = mapped_column(Integer)


class DailyOutcomes(Base):
    """Reported calls per outcome option (field "option"), per option and sex (field
    "harm|sex", option "physical|female"), and reports in all (field "", option "")."""

    __tablename__ = "daily_outcomes"
    __table_args__ = (Index("ix_daily_outcomes_topic_language_day", "topic", "language", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    field: Mapped[str] = mapped_column(String(70), primary_key=True)
    option: Mapped[str] = mapped_column(String(70), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class CallbackDay(Base):
    """A local day whose callback requests are counted in daily_callbacks: all had ended, or
    `hotline purge` was about to delete them (one still open counts as it then stood)."""

    __tablename__ = "daily_callback_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class DailyCallbacks(Base):
    """Callback requests created on the day, by how they ended."""

    __tablename__ = "daily_callbacks"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
