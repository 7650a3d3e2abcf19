"""Reminder tick benchmark (issue 6, "Scale"): N scheduled reminders of which M are due; one
tick (two, concurrently) dispatches every due one to a local fake LINE API.

    python -m bench.reminders [--scheduled 100000] [--due 10000] [--database-url postgresql://…]

Builds its own database (SQLite file in a temp dir; PostgreSQL too when a URL is given) and its
own fake LINE server (bot.devmode.fake_line over werkzeug). Figures: tick wall time, messages
sent, duplicates, and peak RSS growth during the tick with 10k vs 100k scheduled (each measured
in a fresh process so one run's heap does not hide the other's)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NOW = datetime(2023, 5, 10, 10, 0, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)
ADVISORS = 500


def _rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    def __init__(self):
        self.base = _rss_kb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_kb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kb())

    @property
    def delta_mb(self) -> float:
        return round((self.peak - self.base) / 1024, 1)


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()


TEXTS = ("📅 提醒：10% 企業合作意向書上傳期限\n時間：112/03/18 17:00（還有 3 天）",
         "📅 提醒：雲工具完成導入期限\n時間：112/07/31 17:00（還有 7 天）",
         "📅 提醒：第一次查核點\n時間：112/07/15 17:00（還有 1 天）",
         "📅 今天就是：輔導期間結束\n時間：112/11/30 17:00")


def _seed(database, *, scheduled: int, due: int, visit_share: float = 0.02) -> None:
    """``due`` reminders due now — mostly personal deadline reminders (four distinct texts, the
    audience rule re-checked at send time, so identical texts coalesce into multicasts), plus a
    ``visit_share`` of visit reminders (personal text: one push each) — and ``scheduled - due``
    reminders due later. Inserted in bulk."""
    import sqlalchemy as sa

    from bot.models import User
    from companies.models import Company, CompanyMember
    from scheduler.models import Reminder
    from visits.models import Visit

    visit_rows = int(due * visit_share) // 2 * 2
    personal_rows = due - visit_rows
    visits = max(1, visit_rows // 2)
    people = max(personal_rows, visits)
    owners = [f"Uowner{i:026d}" for i in range(people)]
    advisors = [f"Uadvsr{i:026d}" for i in range(ADVISORS)]
    stamp = datetime.now(timezone.utc)
    at = NOW + timedelta(hours=1)
    epoch = int(at.timestamp())
    with database.engine.begin() as connection:
        connection.execute(sa.insert(User), [
            {"line_user_id": u, "is_following": True, "reminders_enabled": True, "processing_stopped": False,
             "created_at": stamp} for u in owners + advisors])
        connection.execute(sa.insert(Company), [
            {"id": i + 1, "program_id": "gonghao-2023", "name": f"測試商店{i:05d}", "letter_status": "none",
             "verdict": "eligible", "status": "active", "advisor_line_user_id": advisors[i % ADVISORS],
             "answers": {}, "verdict_reasons": [], "created_at": stamp, "updated_at": stamp} for i in range(people)])
        connection.execute(sa.insert(CompanyMember), [
            {"company_id": i + 1, "line_user_id": owners[i], "role": "owner", "linked_at": stamp}
            for i in range(people)])
        connection.execute(sa.insert(Visit), [
            {"id": i + 1, "company_id": i + 1, "advisor_line_user_id": advisors[i % ADVISORS], "scheduled_at": at,
             "mode": "onsite", "photos": [], "status": "booked", "created_at": stamp, "updated_at": stamp}
            for i in range(visits)])
        rows = []

        def flush(force: bool = False):
            nonlocal rows
            if rows and (force or len(rows) >= 20000):
                connection.execute(sa.insert(Reminder), rows)
                rows = []

        for i in range(visit_rows):
            visit = i // 2 + 1
            person = owners[visit - 1] if i % 2 == 0 else advisors[(visit - 1) % ADVISORS]
            rows.append({"key": f"visit:{visit}:visit_hour:{epoch}:{person}", "kind": "visit_hour",
                         "visit_id": visit, "recipient": person, "due_at": NOW - timedelta(minutes=i % 30),
                         "status": "pending", "program_id": "gonghao-2023",
                         "payload": {"at": at.isoformat(), "role": "owner" if i % 2 == 0 else "advisor"},
                         "created_at": stamp})
        for i in range(personal_rows):
            rows.append({"key": f"personal:bench-{i % 4}:{owners[i]}", "kind": "personal", "recipient": owners[i], "visit_id": None,
                         "due_at": NOW - timedelta(minutes=i % 30), "status": "pending", "program_id": "gonghao-2023",
                         "payload": {"text": TEXTS[i % 4], "audience": ["owners_eligible_no_letter"]},
                         "created_at": stamp})
            flush()
        for i in range(scheduled - due):
            rows.append({"key": f"personal:later-{i}:{owners[i % people]}", "kind": "personal", "visit_id": None,
                         "recipient": owners[i % people], "due_at": NOW + timedelta(days=1 + i % 200),
                         "status": "pending", "program_id": "gonghao-2023",
                         "payload": {"text": TEXTS[i % 4], "audience": ["owners_eligible_no_letter"]},
                         "created_at": stamp})
            flush()
        flush(force=True)
    if database.is_postgres:
        with database.engine.begin() as connection:
            for table in ("companies", "visits"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
            connection.exec_driver_sql("ANALYZE")


def _one_run(*, database_url: str, scheduled: int, due: int, concurrent: bool = True) -> dict:
    from bench.broadcast import serve_fake_line
    from bot import create_app
    from bot.db import Database, upgrade_schema
    from bot.devmode.fake_line import FakeLine
    from scheduler.service import run_tick
    from scheduler.settings import load_schedules

    fake = FakeLine(access_token="bench-token")
    server, url = serve_fake_line(fake)
    try:
        upgrade_schema(database_url)
        app = create_app({"IGNORE_ENVIRONMENT": True, "TESTING": True, "BOT_ENV": "development",
                          "DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "bench-secret",
                          "LINE_CHANNEL_ACCESS_TOKEN": "bench-token", "LINE_API_BASE_URL": url,
                          "LINE_DATA_API_BASE_URL": url, "SCHEDULER_ENABLED": False, "LOG_LEVEL": "WARNING",
                          "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml")})
        runtime = app.extensions["bot"]
        database: Database = runtime.database
        _seed(database, scheduled=scheduled, due=due)
        schedules = load_schedules(app.config["PROGRAMS_FILE"])
        deliverer = runtime.services.get("reminder_deliverer")
        reports = []

        def tick(name):
            reports.append(run_tick(database=database, deliverer=deliverer, schedules=schedules, now=NOW,
                                    worker=name))

        started = time.perf_counter()
        with PeakRss() as rss:
            threads = [threading.Thread(target=tick, args=(f"bench-{i}",)) for i in range(2 if concurrent else 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        wall = time.perf_counter() - started
        again = run_tick(database=database, deliverer=deliverer, schedules=schedules, now=NOW, worker="bench-again")
        with fake.lock:
            records = list(fake.records)
        deliveries = Counter()
        for record in records:
            for person in record["to"]:
                deliveries[(person, json.dumps(record["messages"], sort_keys=True, ensure_ascii=False))] += 1
        return {
            "backend": database.engine.dialect.name, "scheduled": scheduled, "due": due,
            "concurrent_ticks": len(reports), "tick_wall_seconds": round(wall, 2),
            "claimed_per_tick": [r.claimed for r in reports],
            "messages_sent": sum(deliveries.values()), "requests": len(records),
            "duplicates": sum(n - 1 for n in deliveries.values() if n > 1),
            "second_tick_claimed": again.claimed,
            "dead": sum(r.dead for r in reports), "retrying": sum(r.retrying for r in reports),
            "peak_rss_delta_mb": rss.delta_mb,
        }
    finally:
        server.shutdown()


def _in_subprocess(**kwargs) -> dict:
    args = [sys.executable, "-m", "bench.reminders", "--single", "--json"]
    for key, value in kwargs.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    output = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_reminder_bench(*, scheduled: int = 100_000, due: int = 10_000, database_url: str | None = None) -> dict:
    """The figures `make bench` prints. Each measured run happens in a fresh process."""
    database_url = database_url or os.environ.get("BENCH_DATABASE_URL") or None
    results: dict = {"target": "one tick dispatches all due reminders in <= 10 s; memory flat in scheduled"}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        small = _in_subprocess(database_url=f"sqlite:///{tmp}/small.db", scheduled=due, due=due)
        large = _in_subprocess(database_url=f"sqlite:///{tmp}/large.db", scheduled=scheduled, due=due)
        runs += [small, large]
    if database_url:
        _reset_postgres(database_url)
        runs.append(_in_subprocess(database_url=database_url, scheduled=scheduled, due=due))
    results["runs"] = runs
    results["sqlite"] = large
    results["peak_rss_delta_mb"] = {f"{small['scheduled']}_scheduled": small["peak_rss_delta_mb"],
                                    f"{large['scheduled']}_scheduled": large["peak_rss_delta_mb"]}
    results["ok"] = all(r["duplicates"] == 0 and r["messages_sent"] == r["due"] and r["tick_wall_seconds"] <= 10
                        and r["second_tick_claimed"] == 0 for r in runs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scheduled", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--single", action="store_true", help="one run in this process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.single:
        url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        print(json.dumps(_one_run(database_url=url, scheduled=args.scheduled, due=args.due)))
        return
    results = run_reminder_bench(scheduled=args.scheduled, due=args.due, database_url=args.database_url)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return
    for run in results["runs"]:
        print(f"reminders [{run['backend']}] {run['scheduled']:,} scheduled / {run['due']:,} due: "
              f"{run['concurrent_ticks']} concurrent ticks {run['tick_wall_seconds']} s, "
              f"{run['messages_sent']:,} messages in {run['requests']:,} requests, "
              f"{run['duplicates']} duplicates, re-tick claimed {run['second_tick_claimed']}, "
              f"peak RSS +{run['peak_rss_delta_mb']} MB")
    print("reminders: OK" if results["ok"] else "reminders: TARGET MISSED")


if __name__ == "__main__":
    main()
