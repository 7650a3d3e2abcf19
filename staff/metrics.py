"""Programme figures for the dashboard, each from one or two grouped queries. Targets and ratios
come from programs.yaml (campaign.tiers, campaign.letters_ratio_*, visit_rules), never from code."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.models import AuditEntry, OutboundMessage, User
from companies.models import Company
from knowledge.models import STATUS_ANSWERED, UnansweredQuestion
from visits import service as visits_service


@dataclass
class Bar:
    label: str
    value: int
    total: int = 0

    @property
    def percent(self) -> int:
        return 0 if not self.total else min(100, round(100 * self.value / self.total))


@dataclass
class Overview:
    program_id: str
    program_name: str
    recruited: int
    track: str
    tiers: list[dict]
    tier_reached: str | None
    next_tier: dict | None
    funnel: list[Bar]
    letters: dict
    visits: dict
    outbox: dict[str, int]
    unanswered: dict


def programme(config, program_id: str) -> dict:
    return (visits_service.programs_doc(config).get("programs") or {}).get(program_id) or {}


def overview(session: Session, *, config, program_id: str = "gonghao-2023") -> Overview:
    prog = programme(config, program_id)
    campaign = prog.get("campaign") or {}
    track = campaign.get("track") or "popularization"
    tiers = list((campaign.get("tiers") or {}).get(track) or [])
    # The active companies are loaded once (visit progress needs them); the counts come from them.
    rules, rows = company_progress(session, config=config, program_id=program_id)
    recruited = len(rows)
    reached = [tier for tier in tiers if recruited >= tier.get("min", 0)]
    tier_reached = reached[-1]["tier"] if reached else None
    next_tier = next((tier for tier in tiers if recruited < tier.get("min", 0)), None)

    followers = session.exec(select(sa.func.count(User.id)).where(User.is_following.is_(True))).one()
    consented = session.exec(select(sa.func.count(User.id)).where(User.consent_version.is_not(None))).one()
    verdicts = Counter(company.verdict for company, _ in rows)
    letters = Counter(company.letter_status for company, _ in rows)
    adopted = sum(1 for company, _ in rows if company.tool_adopted_at is not None)
    checked = sum(v for k, v in verdicts.items() if k)
    eligible = verdicts.get("eligible", 0)
    signed = letters.get("signed", 0)
    met = sum(1 for _, progress in rows if progress.meets_rule)
    top = max([followers, 1])
    funnel = [Bar("加入好友", followers, top), Bar("同意個資聲明", consented, top), Bar("完成資格檢查", checked, top),
              Bar("符合資格", eligible, top), Bar("簽署意向書", signed, top), Bar("完成工具導入", adopted, top),
              Bar("訪視達標", met, top)]

    required = campaign.get("letters_ratio_after_acceptance" if campaign.get("accepted")
                            else "letters_ratio_at_proposal")
    letters_info = {"signed": signed, "none": letters.get("none", 0), "withdrawn": letters.get("withdrawn", 0),
                    "recruited": recruited, "ratio": (signed / recruited) if recruited else 0.0,
                    "required": required, "accepted": bool(campaign.get("accepted"))}
    visits_info = {"rules": rules, "met": met, "companies": recruited,
                   "total": sum(p.total for _, p in rows), "onsite": sum(p.onsite for _, p in rows)}
    outbox = dict(session.exec(select(OutboundMessage.status, sa.func.count(OutboundMessage.id))
                               .group_by(OutboundMessage.status)).all())
    return Overview(program_id, prog.get("name", program_id), recruited, track, tiers, tier_reached, next_tier,
                    funnel, letters_info, visits_info, outbox, unanswered_summary(session))


def unanswered_summary(session: Session) -> dict:
    """The FAQ's unanswered-question log: how many there are and how many still wait for staff."""
    waiting = sa.func.sum(sa.case((UnansweredQuestion.answered_at.is_(None), 1), else_=0))
    total, open_count = session.exec(select(sa.func.count(UnansweredQuestion.id), waiting)).one()
    return {"table": UnansweredQuestion.__tablename__, "total": int(total), "open": int(open_count or 0)}


def latest_answered(session: Session, *, limit: int = 10) -> list[UnansweredQuestion]:
    return list(session.exec(select(UnansweredQuestion).where(UnansweredQuestion.status == STATUS_ANSWERED)
                             .order_by(UnansweredQuestion.id.desc()).limit(limit)).all())


def company_progress(session: Session, *, config, program_id: str = "gonghao-2023"):
    rules = visits_service.visit_rules(config, program_id)
    companies = list(session.exec(select(Company).where(Company.program_id == program_id,
                                                        Company.status == "active").order_by(Company.id)).all())
    progress = visits_service.progress_by_company(session, companies=companies, rules=rules)
    return rules, [(c, progress[c.id]) for c in companies]


def recent_audit(session: Session, *, limit: int = 50, offset: int = 0, action: str | None = None) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
    if action:
        statement = statement.where(AuditEntry.action == action)
    return list(session.exec(statement).all())


def outbox_breakdown(session: Session) -> list[tuple[str, str, int]]:
    return [(kind, status, int(n)) for kind, status, n in session.exec(
        select(OutboundMessage.kind, OutboundMessage.status, sa.func.count(OutboundMessage.id))
        .group_by(OutboundMessage.kind, OutboundMessage.status)).all()]


def dead_letters(session: Session, *, limit: int = 20) -> list[OutboundMessage]:
    return list(session.exec(select(OutboundMessage).where(OutboundMessage.status == "dead")
                             .order_by(OutboundMessage.id.desc()).limit(limit)).all())
