"""A seeded campaign of 60 companies at several states, built through the service functions (the
chat paths are covered in tests/test_adoption.py; here only the figures matter).

    companies 1–60   owners U…0001–U…0060; advisor A1 for 1–30, A2 for 31–60
    letters          1–55 signed 112/03/10 (with the proposal); 56–60 eligible, no letter
    replacement      55 replaced by 56 (歇業) on 112/06/01
    adoption         1–40 POS started 112/06/15, confirmed 112/06/20; 41 confirmed 112/07/10;
                     42–45 pending; 46–48 declined
    usage            1–30 May 50 (≥ 30), 31–35 May 10 (below), reported 112/06/05; 1–5 June 20
                     (below), reported 112/07/05; company 2's May report has a screenshot
    visits           1–20: on site 5/10, online 6/10 and 6/20 (company 1's first has a photo);
                     21–25: three online; 26–30: one on site; 31: on site 6/01, online 7/01, online 8/01
    activities       知能活動 5/20 (owners 1–20 and a walk-in with no company), 6/17 (1–10), 6/24
                     cancelled (1–5 registered), 8/19 (11–30); 成果展示 7/08 (1–30)
    前測             1–40 said 「已完成」 112/06/05; 41–50 from the office's list (dated 112/06/12)
    custom KPIs      1–10: baseline (112/05/05) 營業額 30,000, 來客 400, 會員 100, 結帳 120 秒, LINE 好友 0,
                     評論 10; May (reported 112/06/03) 40,000 / 450 / 150 / 90 / 50 / 15; June (reported
                     112/07/03) 45,000 / 500 / 180 / 80 / 70 / 20. 11–15: baseline only. 55 (replaced):
                     both, never counted
    數位健檢         1–20 baseline 112/05/10 (every second answer: level 2); 1–10 again 112/10/15
                     (every third answer: level 3)
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from adoption import service as adoption
from bot.models import RoleGrant, User
from bot.timeutil import TAIPEI
from checkpoints.settings import programme
from companies.models import Company, CompanyMember
from letters import document as doc
from letters import service as letters
from replacements import service as replacements
from visits import service as visits

A1, A2, STAFF = "U" + "a1" * 16, "U" + "a2" * 16, "U" + "5" * 32
JPEG = b"\xff\xd8\xff" + b"p" * 300
FIELDS = {"registration": "registered", "employees": 3, "contact_name": "王小明", "mobile": "0912345678",
          "phone": "02-2345-6789", "email": "shop@example.com", "address": "臺北市大同區承德路二段239號",
          "representative": "王大明"}


def owner(n: int) -> str:
    return f"U{n:032d}"


def taipei(*parts) -> datetime:
    return datetime(*parts, tzinfo=TAIPEI)


def seed(app) -> dict[int, int]:
    """{n: company id} for n in 1..60."""
    database = app.extensions["bot"].database
    program = programme(app.config, "gonghao-2023")
    campaign = doc.campaign_settings(app.config, "gonghao-2023")
    ids: dict[int, int] = {}
    with database.write_session() as session:
        for person, role in ((A1, "advisor"), (A2, "advisor"), (STAFF, "staff")):
            session.add(User(line_user_id=person))
            session.add(RoleGrant(line_user_id=person, role=role, granted_by="test"))
        for n in range(1, 61):
            session.add(User(line_user_id=owner(n)))
            company = Company(name=f"第{n:02d}號小店", tax_id=f"{70000000 + n}", verdict="eligible", county="臺中市",
                              advisor_line_user_id=A1 if n <= 30 else A2)
            session.add(company)
            session.flush()
            session.add(CompanyMember(company_id=company.id, line_user_id=owner(n), role="owner"))
            ids[n] = company.id
            if n <= 55:
                letters.sign_letter(session, company=company, line_user_id=owner(n), display_name=None,
                                    fields={**FIELDS, "company_name": company.name, "tax_id": company.tax_id},
                                    campaign=campaign, signature=letters.Signature(signed_name="王大明"),
                                    consent_sha256=doc.consent_sha256(), now=taipei(2023, 3, 10, 10))
        replacements.replace_company(session, company_id=ids[55], reason="歇業", successor_id=ids[56], actor=STAFF,
                                     campaign=campaign, now=taipei(2023, 6, 1, 10))

        def record(n, day=date(2023, 6, 15)):
            return adoption.record_adoption(session, program=program, company_id=ids[n], tool_ids=["pos"],
                                            started_on=day, actor=A1 if n <= 30 else A2, roles={"advisor"},
                                            now=taipei(2023, 6, 16, 10)).adoptions

        for n in range(1, 49):
            rows = record(n)
            if n <= 40:
                adoption.answer(session, program_of=lambda pid: program, adoption_ids=[r.id for r in rows],
                                user_id=owner(n), confirmed=True, now=taipei(2023, 6, 20, 10))
            elif n == 41:
                adoption.answer(session, program_of=lambda pid: program, adoption_ids=[r.id for r in rows],
                                user_id=owner(n), confirmed=True, now=taipei(2023, 7, 10, 10))
            elif n >= 46:
                adoption.answer(session, program_of=lambda pid: program, adoption_ids=[r.id for r in rows],
                                user_id=owner(n), confirmed=False, now=taipei(2023, 6, 20, 10))
        for n in range(1, 36):
            adoption.report_usage(session, program=program, company_id=ids[n], period="2023-05", user_id=owner(n),
                                  figure=50 if n <= 30 else 10, now=taipei(2023, 6, 5, 10),
                                  screenshot=("m-usage-2", JPEG) if n == 2 else None)
        for n in range(1, 6):
            adoption.report_usage(session, program=program, company_id=ids[n], period="2023-06", user_id=owner(n),
                                  figure=20, now=taipei(2023, 7, 5, 10))

        def visit(n, when, mode):
            return visits.record_visit(session, advisor=A1 if n <= 30 else A2, company_id=ids[n], visited_at=when,
                                       mode=mode, duration_minutes=60, topics="POS教學")

        for n in range(1, 21):
            first = visit(n, taipei(2023, 5, 10, 14), "onsite")
            visit(n, taipei(2023, 6, 10, 14), "online")
            visit(n, taipei(2023, 6, 20, 14), "online")
            if n == 1:
                visits.attach_photo(session, visit_id=first.id, message_id="m-visit-1", content=JPEG)
        for n in range(21, 26):
            for day in (5, 6, 7):
                visit(n, taipei(2023, 6, day, 10), "online")
        for n in range(26, 31):
            visit(n, taipei(2023, 6, 8, 10), "onsite")
        visit(31, taipei(2023, 6, 1, 10), "onsite")
        visit(31, taipei(2023, 7, 1, 8), "online")
        visit(31, taipei(2023, 8, 1, 10), "online")
        seed_activities_and_tests(session, app, ids)
        seed_kpis_and_checkups(session, ids)
    return ids


BASELINE_FIGURES = {"sales": 30000, "visitors": 400, "members": 100, "service_time": 120, "line_friends": 0,
                    "reviews": 10}
MONTH_FIGURES = {"2023-05": ({"sales": 40000, "visitors": 450, "members": 150, "service_time": 90, "line_friends": 50,
                              "reviews": 15}, taipei(2023, 6, 3, 10)),
                 "2023-06": ({"sales": 45000, "visitors": 500, "members": 180, "service_time": 80, "line_friends": 70,
                              "reviews": 20}, taipei(2023, 7, 3, 10))}


def seed_kpis_and_checkups(session, ids: dict[int, int]) -> None:
    """Issue 21's custom KPI figures and check-ups through the service functions."""
    from checkup import service as checkups
    from checkup.settings import checkup
    from kpis import service as kpis

    def report(n, period, values, when):
        for indicator, value in values.items():
            kpis.record(session, company_id=ids[n], program_id="gonghao-2023", indicator=indicator, period=period,
                        value=value, approximate=False, said=str(value), reported_by=owner(n), now=when)

    for n in (*range(1, 16), 55):
        report(n, "baseline", BASELINE_FIGURES, taipei(2023, 5, 5, 10))
        if n <= 10 or n == 55:
            for period, (values, when) in MONTH_FIGURES.items():
                report(n, period, values, when)
    data = checkup()
    for n in range(1, 21):
        company = session.get(Company, ids[n])
        checkups.save(session, checkup=data, line_user_id=owner(n), company=company,
                      answers={q.id: q.options[1].id for q in data.questions}, now=taipei(2023, 5, 10, 10))
        if n <= 10:
            checkups.save(session, checkup=data, line_user_id=owner(n), company=company,
                          answers={q.id: q.options[2].id for q in data.questions}, now=taipei(2023, 10, 15, 10))


WALK_IN = "U" + "w" * 32


def seed_activities_and_tests(session, app, ids: dict[int, int]) -> None:
    """Issue 21's part of the campaign (activities, 前測) through the service functions."""
    from activities import service as activities
    from activities.settings import activity_settings
    from assessments import service as assessments

    settings = activity_settings(app.config)
    session.add(User(line_user_id=WALK_IN))

    def held(kind, when, people, *, cancelled=False):
        activity = activities.create_activity(session, actor=STAFF, source="test", kind=kind, title=f"活動 {when:%m/%d}",
                                              starts_at=when, minutes=120, place="臺中市政府", online_url=None,
                                              capacity=None, settings=settings, now=taipei(2023, 5, 1, 9))
        for person in people:
            row = activities.register(session, activity_id=activity.id, line_user_id=person,
                                      now=when - timedelta(days=2)).registration
            if not cancelled:
                activities.staff_check_in(session, registration_id=row.id, actor=STAFF, now=when)
        if cancelled:
            activities.cancel_activity(session, activity_id=activity.id, actor=STAFF, now=when - timedelta(days=1))

    held("workshop", taipei(2023, 5, 20, 14), [*(owner(n) for n in range(1, 21)), WALK_IN])
    held("workshop", taipei(2023, 6, 17, 14), [owner(n) for n in range(1, 11)])
    held("workshop", taipei(2023, 6, 24, 14), [owner(n) for n in range(1, 6)], cancelled=True)
    held("workshop", taipei(2023, 8, 19, 14), [owner(n) for n in range(11, 31)])
    held("showcase", taipei(2023, 7, 8, 14), [owner(n) for n in range(1, 31)])
    for n in range(1, 51):
        assessments.record(session, company_id=ids[n], test="pretest", source="owner" if n <= 40 else "import",
                           recorded_by=owner(n) if n <= 40 else "cli",
                           completed_at=taipei(2023, 6, 5, 10) if n <= 40 else taipei(2023, 6, 12, 12))
