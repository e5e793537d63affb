"""How many call events a second the journal's writer applies to the database, by kind of batch.

The webhooks queue events and one writer at a time applies them (hotline.calllog.spool): in a
burst it is the writer's pace that decides how soon the records (and the dashboard) are current.
Measured, `--runs` times, medians printed, in batches of spool.BATCH as the writer takes them:
- the first webhook's events (a call opened, its greeting step) for new calls;
- a menu step of those calls (their records exist);
- the route step of those calls (routing, a ring attempt, the leg placed through the REST API).
Baseline in the same run: the same number of rows written by a bare Core executemany INSERT into
a table of the same width (what the database itself costs).

    .venv/bin/python bench/journal_writer.py [--calls 2000] [--runs 3]
        [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ivr_step  # noqa: E402  (its throwaway databases)
from sqlalchemy import Column, Integer, MetaData, String, Table, insert  # noqa: E402

from hotline.calllog import journal, spool  # noqa: E402
from hotline.db import Database  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.simulate import new_call_sid  # noqa: E402


def batches(items: list[journal.Event]) -> list[list[journal.Event]]:
    return [items[i : i + spool.BATCH] for i in range(0, len(items), spool.BATCH)]


def apply_all(db: Database, items: list[journal.Event]) -> float:
    """Events per second for applying `items` in the writer's batches."""
    started = time.perf_counter()
    for batch in batches(items):
        spool.apply_batch(db, batch, lambda: None)
    return len(items) / (time.perf_counter() - started)


def bare_rows(db: Database, count: int) -> float:
    """Rows per second of a bare executemany INSERT, in batches of the same size."""
    meta = MetaData()
    table = Table(
        f"bench_bare_{time.monotonic_ns()}", meta,
        Column("id", Integer, primary_key=True), Column("sid", String(64)), Column("a", String(64)),
    )  # fmt: skip
    meta.create_all(db.engine)
    rows = [{"sid": new_call_sid(), "a": "x" * 40} for _ in range(count)]
    started = time.perf_counter()
    for i in range(0, count, spool.BATCH):
        with db.engine.begin() as connection:
            connection.execute(insert(table), rows[i : i + spool.BATCH])
    return count / (time.perf_counter() - started)


def one_run(url: str, calls: int) -> dict[str, float]:
    upgrade(url)
    db = Database(url)
    try:
        sids = [new_call_sid() for _ in range(calls)]
        first = [
            item
            for sid in sids
            for item in (
                journal.event("opened", sid, caller_key="k" * 64, key_version=1),
                journal.event("step", sid, visited=["greeting"]),
            )
        ]
        menu = [journal.event("step", sid, visited=["language", "language:2"], language="ru")
                for sid in sids]  # fmt: skip
        route = [
            item
            for sid in sids
            for item in (
                journal.event("routing", sid, language="ru", topic="labor"),
                journal.event("ring", sid, seq=0, volunteer=7),
                journal.event("leg", sid, leg=new_call_sid()),
            )
        ]
        return {
            "bare insert (rows/s)": bare_rows(db, len(first)),
            "first webhook (events/s)": apply_all(db, first),
            "menu step (events/s)": apply_all(db, menu),
            "route step (events/s)": apply_all(db, route),
        }
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        results: dict[str, list[float]] = {}
        for _ in range(args.runs):
            with (
                tempfile.TemporaryDirectory() as tmp,
                ivr_step.database(backend == "postgresql", tmp, "hotline_bench_journal") as url,
            ):
                for name, value in one_run(url, args.calls).items():
                    results.setdefault(name, []).append(value)
        print(f"\n{backend}: {args.calls} calls, batches of {spool.BATCH}, median of {args.runs}")
        bare = statistics.median(results["bare insert (rows/s)"])
        for name, values in results.items():
            value = statistics.median(values)
            print(f"  {name:28} {value:9,.0f}   ratio to bare insert {value / bare:.2f}")


if __name__ == "__main__":
    main()
