"""Company records and who may speak for them: keyword-only functions over a session (the caller
owns the transaction).

Membership is granted, not claimed (issue 18): the account that first completes the intake for
a 統編 becomes its member; another account typing the same 統編 gets a ``CompanyJoinRequest``,
which a current member (in chat) or staff (dashboard, CLI) approve or decline. Every function
that resolves "the user's company" reads ``CompanyMember`` only, so a pending requester gets
nothing through any of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.db import utc_now
from bot.messages import Card, Choice, Text, encode_postback
from bot.outbox import enqueue_push
from bot.services import audit, find_user, user_ids_with_role
from bot.texts import t
from bot.timeutil import format_roc_datetime
from companies.models import Company, CompanyJoinRequest, CompanyMember

PENDING, APPROVED, DECLINED = "pending", "approved", "declined"
# After a decline the same person cannot ask the same company again for this long: each request
# pushes a card to the company's members, and a declined stranger must not be able to keep
# knocking. Staff can still approve a new request filed after that.
ASK_AGAIN_AFTER = timedelta(days=30)
DECIDE_COMMAND = "company_join_decide"  # the chat command behind the members' buttons


# --- reading -------------------------------------------------------------------------------

def companies_of_user(session: Session, *, line_user_id: str) -> list[Company]:
    statement = (select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                 .where(CompanyMember.line_user_id == line_user_id).order_by(Company.id))
    return list(session.exec(statement).all())


def latest_company_of_user(session: Session, *, line_user_id: str) -> Company | None:
    statement = (select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                 .where(CompanyMember.line_user_id == line_user_id)
                 .order_by(Company.updated_at.desc(), Company.id).limit(1))
    return session.exec(statement).first()


def find_by_tax_id(session: Session, *, tax_id: str) -> Company | None:
    return session.exec(select(Company).where(Company.tax_id == tax_id)).first()


def members_of(session: Session, *, company_id: int) -> list[str]:
    return list(session.exec(select(CompanyMember.line_user_id).where(CompanyMember.company_id == company_id)
                             .order_by(CompanyMember.id)).all())


def owners_of(session: Session, *, company_id: int) -> list[str]:
    """The LINE users who speak for the company as its owner (they confirm what is recorded about it)."""
    return list(session.exec(select(CompanyMember.line_user_id).where(
        CompanyMember.company_id == company_id, CompanyMember.role == "owner").order_by(CompanyMember.id)).all())


def is_member(session: Session, *, company_id: int, line_user_id: str) -> bool:
    return session.exec(select(CompanyMember.id).where(CompanyMember.company_id == company_id,
                                                       CompanyMember.line_user_id == line_user_id)).first() is not None


def standing(session: Session, *, line_user_id: str, tax_id: str) -> str:
    """What a 統編 typed in the intake means for this person: "new" (nobody registered it),
    "member" (their own company) or "taken" (another account's: they may only ask to join)."""
    company = find_by_tax_id(session, tax_id=tax_id)
    if company is None:
        return "new"
    return "member" if is_member(session, company_id=company.id, line_user_id=line_user_id) else "taken"


# --- the intake's record -----------------------------------------------------------------------

@dataclass(frozen=True)
class Intake:
    """``company``: the record written (created, or updated by a member). ``taken``: the 統編
    belongs to a company this person is not a member of; nothing was written."""

    company: Company | None
    taken: Company | None = None
    created: bool = False


def record_intake(session: Session, *, line_user_id: str, tax_id: str | None, fields: dict) -> Intake:
    """Create the company for an intake (this person becomes its first member) or update the one
    they are a member of. A 統編 another account registered is never written to (``taken``)."""
    company = find_by_tax_id(session, tax_id=tax_id) if tax_id else None
    if company is not None and not is_member(session, company_id=company.id, line_user_id=line_user_id):
        return Intake(company=None, taken=company)
    if company is None and not tax_id:
        # No 統編 (稅籍 only or not given): reuse this user's company without one, if any.
        company = next((c for c in companies_of_user(session, line_user_id=line_user_id) if c.tax_id is None), None)
    created = company is None
    if created:
        company = Company(tax_id=tax_id)
    for key, value in fields.items():
        setattr(company, key, value)
    company.updated_at = utc_now()
    session.add(company)
    session.flush()
    if created:
        session.add(CompanyMember(company_id=company.id, line_user_id=line_user_id, role="owner"))
        session.flush()
        audit(session, actor=line_user_id, action="company_registered", target=f"company:{company.id}")
    return Intake(company=company, created=created)


# --- join requests -----------------------------------------------------------------------------

@dataclass(frozen=True)
class JoinOutcome:
    """``state``: "created" (members or staff were asked), "pending" (an open request exists
    already), "declined" (declined within ASK_AGAIN_AFTER) or "member" (nothing to ask)."""

    state: str
    request: CompanyJoinRequest | None = None


def pending_request(session: Session, *, company_id: int, line_user_id: str) -> CompanyJoinRequest | None:
    return session.exec(select(CompanyJoinRequest).where(
        CompanyJoinRequest.company_id == company_id, CompanyJoinRequest.line_user_id == line_user_id,
        CompanyJoinRequest.status == PENDING)).first()


def requests_of_user(session: Session, *, line_user_id: str, status: str | None = None) -> list[CompanyJoinRequest]:
    statement = select(CompanyJoinRequest).where(CompanyJoinRequest.line_user_id == line_user_id)
    if status:
        statement = statement.where(CompanyJoinRequest.status == status)
    return list(session.exec(statement.order_by(CompanyJoinRequest.id.desc())).all())


def join_requests(session: Session, *, status: str | None = PENDING, limit: int = 200) -> list[CompanyJoinRequest]:
    statement = select(CompanyJoinRequest)
    if status:
        statement = statement.where(CompanyJoinRequest.status == status)
    return list(session.exec(statement.order_by(CompanyJoinRequest.id.desc()).limit(limit)).all())


def request_to_join(session: Session, *, company_id: int, line_user_id: str, tax_id: str | None,
                    answers: dict, now: datetime | None = None) -> JoinOutcome:
    """File this person's request to join a company (their answers kept on the request, never on
    the company) and ask the company's members to decide — or staff, when it has none left."""
    now = now or utc_now()
    if is_member(session, company_id=company_id, line_user_id=line_user_id):
        return JoinOutcome("member")
    open_request = pending_request(session, company_id=company_id, line_user_id=line_user_id)
    if open_request is not None:
        return JoinOutcome("pending", open_request)
    last = session.exec(select(CompanyJoinRequest).where(
        CompanyJoinRequest.company_id == company_id, CompanyJoinRequest.line_user_id == line_user_id,
        CompanyJoinRequest.status == DECLINED).order_by(CompanyJoinRequest.decided_at.desc())).first()
    if last is not None and last.decided_at and now - last.decided_at < ASK_AGAIN_AFTER:
        return JoinOutcome("declined", last)
    join = CompanyJoinRequest(company_id=company_id, line_user_id=line_user_id, tax_id=tax_id,
                              answers=dict(answers), requested_at=now)
    session.add(join)
    session.flush()
    audit(session, actor=line_user_id, action="company_join_requested", target=f"company:{company_id}",
          request=join.id)
    _ask_members(session, join=join)
    return JoinOutcome("created", join)


def requester_name(session: Session, line_user_id: str) -> str:
    """The requester's LINE display name (stored once they agreed to the privacy statement, which
    the intake requires), for the members to recognise them."""
    user = find_user(session, line_user_id)
    return (user.display_name if user is not None and user.display_name else "") or t("companies.unnamed")


def _ask_members(session: Session, *, join: CompanyJoinRequest) -> None:
    company = session.get(Company, join.company_id)
    members = members_of(session, company_id=join.company_id)
    values = {"company": (company.name if company else None) or t("companies.this_company"),
              "name": requester_name(session, join.line_user_id),
              "at": format_roc_datetime(join.requested_at)}
    if not members:  # the owner is gone (erased, left): staff decide on the dashboard or the CLI
        for staff in user_ids_with_role(session, "staff"):
            enqueue_push(session, to=staff, replies=[Text(t("companies.staff_request", tax_id=join.tax_id or "—",
                                                             **values))],
                         idempotency_key=f"company-join:{join.id}:staff:{staff}", origin=f"company_join:{join.id}")
        return
    card = Card(title=t("companies.request_title", **values), body=t("companies.request_body", **values),
                note=t("companies.request_note"),
                buttons=(Choice(t("companies.approve"), data=encode_postback(c=DECIDE_COMMAND, arg=f"{join.id}:approve"),
                                display=t("companies.approve")),
                         Choice(t("companies.decline"), data=encode_postback(c=DECIDE_COMMAND, arg=f"{join.id}:decline"),
                                display=t("companies.decline"))))
    for member in members:
        enqueue_push(session, to=member, replies=[card], idempotency_key=f"company-join:{join.id}:ask:{member}",
                     origin=f"company_join:{join.id}")


class JoinDecisionError(Exception):
    """``reason``: "not_found" | "not_allowed" (the decider is not a member) | "decided" (already
    approved or declined: a stale or second tap)."""

    def __init__(self, reason: str, join: CompanyJoinRequest | None = None):
        super().__init__(reason)
        self.reason = reason
        self.join = join


def decide(session: Session, *, request_id: int, approve: bool, actor: str, via: str,
           member: str | None = None, now: datetime | None = None) -> CompanyJoinRequest:
    """Approve or decline a pending request, audited. ``member``: the deciding LINE user, who must
    be a current member of the company (chat); None for staff (dashboard, CLI), whose access is
    checked by their door. Approval makes the requester a member. The requester is told by push."""
    now = now or utc_now()
    join = session.exec(select(CompanyJoinRequest).where(CompanyJoinRequest.id == request_id)
                        .with_for_update()).first()
    if join is None:
        raise JoinDecisionError("not_found")
    if member is not None and not is_member(session, company_id=join.company_id, line_user_id=member):
        audit(session, actor=member, action="company_join_refused", target=f"company:{join.company_id}",
              request=join.id)
        raise JoinDecisionError("not_allowed", join)
    if join.status != PENDING:
        raise JoinDecisionError("decided", join)
    join.status = APPROVED if approve else DECLINED
    join.decided_at, join.decided_by, join.decided_via = now, actor[:64], via
    session.add(join)
    if approve and not is_member(session, company_id=join.company_id, line_user_id=join.line_user_id):
        session.add(CompanyMember(company_id=join.company_id, line_user_id=join.line_user_id, role="owner"))
    session.flush()
    audit(session, actor=actor, action="company_join_approved" if approve else "company_join_declined",
          target=f"company:{join.company_id}", request=join.id, via=via)
    _tell_outcome(session, join=join, by_staff=member is None)
    return join


def _tell_outcome(session: Session, *, join: CompanyJoinRequest, by_staff: bool) -> None:
    company = session.get(Company, join.company_id)
    name = (company.name if company else None) or t("companies.this_company")
    if join.status == APPROVED:
        text = t("companies.approved_requester", company=name)
        replies = [Text(text, (Choice(t("core.menu_letter")), Choice(t("core.menu_faq"))))]
    else:
        # Declined: the requester learns nothing more of the company than they typed.
        replies = [Text(t("companies.declined_requester", tax_id=join.tax_id or ""), (Choice(t("core.menu_staff")),))]
    enqueue_push(session, to=join.line_user_id, replies=replies,
                 idempotency_key=f"company-join:{join.id}:outcome", origin=f"company_join:{join.id}")
    if by_staff and join.status == APPROVED:
        # Members learn when staff add someone to their company (they did not decide it).
        who = requester_name(session, join.line_user_id)
        for member in members_of(session, company_id=join.company_id):
            if member != join.line_user_id:
                enqueue_push(session, to=member, replies=[Text(t("companies.staff_added", name=who, company=name),
                                                               (Choice(t("core.menu_staff")),))],
                             idempotency_key=f"company-join:{join.id}:added:{member}",
                             origin=f"company_join:{join.id}")


def remove_member(session: Session, *, company_id: int, line_user_id: str, actor: str, reason: str,
                  now: datetime | None = None) -> bool:
    """Staff take a membership away (an account that registered a shop that is not theirs, a phone
    the shop no longer uses). Audited with the reason; the person is told, and so are the remaining
    members. Signed letter versions stay as they are: they are the programme's records. False when
    the person was not a member."""
    member = session.exec(select(CompanyMember).where(CompanyMember.company_id == company_id,
                                                      CompanyMember.line_user_id == line_user_id)).first()
    if member is None:
        return False
    session.delete(member)
    session.flush()
    audit(session, actor=actor, action="company_member_removed", target=f"company:{company_id}",
          member=line_user_id, reason=reason[:200])
    company = session.get(Company, company_id)
    name = (company.name if company else None) or t("companies.this_company")
    stamp = int((now or utc_now()).timestamp())
    enqueue_push(session, to=line_user_id, replies=[Text(t("companies.removed_member", company=name),
                                                         (Choice(t("core.menu_staff")),))],
                 idempotency_key=f"company-member:{company_id}:{line_user_id}:removed:{stamp}",
                 origin=f"company:{company_id}")
    for other in members_of(session, company_id=company_id):
        enqueue_push(session, to=other, replies=[Text(t("companies.member_removed_notice", company=name),
                                                      (Choice(t("core.menu_staff")),))],
                     idempotency_key=f"company-member:{company_id}:{line_user_id}:removed:{stamp}:{other}",
                     origin=f"company:{company_id}")
    return True


def describe_request(session: Session, join: CompanyJoinRequest) -> dict:
    """A request as staff see it (dashboard, CLI --json)."""
    company = session.get(Company, join.company_id)
    return {"id": join.id, "company_id": join.company_id, "company_name": company.name if company else None,
            "tax_id": join.tax_id, "requester": join.line_user_id,
            "requester_name": requester_name(session, join.line_user_id), "status": join.status,
            "requested_at": join.requested_at.isoformat(), "requested_at_roc": format_roc_datetime(join.requested_at),
            "members": len(members_of(session, company_id=join.company_id)),
            "verdict": (join.answers or {}).get("verdict"),
            "decided_at": join.decided_at.isoformat() if join.decided_at else None,
            "decided_by": join.decided_by, "decided_via": join.decided_via}
