"""Letters of intent: keyword-only functions over a session (the caller owns the transaction).

The record (issue 5): a signed letter is an immutable ``LetterVersion`` (canonical JSON of every
field and the letter text, and its SHA-256); every change appends a hash-chained ``LetterEvent``.
``sign_letter`` writes the version, its events and the company's status in the caller's single
transaction, so after a crash the database holds a complete signed version or none.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bot.db import utc_now
from bot.timeutil import format_roc_datetime
from companies.models import Company, CompanyMember
from companies.service import is_member
from letters import document as doc
from letters.models import Letter, LetterAttachment, LetterEvent, LetterVersion
from visits.photos import sniff_mime

EVENT_KINDS = ("started", "viewed", "consented", "signed", "photo_attached", "downloaded", "corrected",
               "withdrawn")


class NotAMember(PermissionError):
    """The signer does not speak for the company (not a member, e.g. a join request pending)."""


class TaxIdNotTheCompanys(PermissionError):
    """The letter names a 統編 other than the company's own (or another company's, when the
    company has none on record): a letter speaks for the company it is signed for (issue 18)."""


def _tax_id_fits(session: Session, *, company: Company, tax_id: str | None) -> bool:
    """Whether a letter for ``company`` may carry ``tax_id``."""
    if not tax_id:
        return True
    if company.tax_id:
        return tax_id == company.tax_id
    return session.exec(select(Company.id).where(Company.tax_id == tax_id, Company.id != company.id)).first() is None


class WithdrawalClosed(Exception):
    """Withdrawal is only possible before the proposal deadline (campaign.proposal_deadline)."""


def _second(moment: datetime) -> datetime:
    # Whole seconds: identical after a round trip through either database backend.
    return moment.replace(microsecond=0)


# --- the hash chain ------------------------------------------------------------------------------

def event_payload(event: LetterEvent) -> dict:
    return {"letter_id": event.letter_id, "seq": event.seq, "kind": event.kind, "actor": event.actor,
            "at": doc.taipei_iso(event.at), "version_id": event.version_id, "detail": event.detail or {}}


def event_hash(prev_hash: str, event: LetterEvent) -> str:
    return doc.sha256_hex(prev_hash + doc.canonical_json(event_payload(event)))


def append_event(session: Session, *, letter: Letter, kind: str, actor: str | None, at: datetime | None = None,
                 version: LetterVersion | None = None, **detail) -> LetterEvent:
    """Add the next event to the letter's chain (and move the chain head on the letter)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown letter event {kind}")
    event = LetterEvent(letter_id=letter.id, seq=letter.event_count + 1, kind=kind, actor=actor,
                        at=_second(at or utc_now()), version_id=version.id if version else None,
                        detail=detail, prev_hash=letter.head_hash or "")
    event.hash = event_hash(event.prev_hash, event)
    letter.event_count = event.seq
    letter.head_hash = event.hash
    letter.updated_at = utc_now()
    session.add(event)
    session.add(letter)
    session.flush()
    return event


# --- reading -------------------------------------------------------------------------------------

def letter_of_company(session: Session, *, company_id: int, lock: bool = False) -> Letter | None:
    """The company's letter; ``lock`` holds its row (PostgreSQL) so chain appends never race."""
    statement = select(Letter).where(Letter.company_id == company_id)
    return session.exec(statement.with_for_update() if lock else statement).first()


def lock_letter(session: Session, *, letter_id: int) -> Letter | None:
    return session.exec(select(Letter).where(Letter.id == letter_id).with_for_update()).first()


def letters_of_user(session: Session, *, line_user_id: str) -> list[Letter]:
    statement = (select(Letter).join(CompanyMember, CompanyMember.company_id == Letter.company_id)
                 .where(CompanyMember.line_user_id == line_user_id).order_by(Letter.updated_at.desc()))
    return list(session.exec(statement).all())


def current_version(session: Session, *, letter: Letter) -> LetterVersion | None:
    return session.get(LetterVersion, letter.current_version_id) if letter.current_version_id else None


def versions_of(session: Session, *, letter_id: int) -> list[LetterVersion]:
    return list(session.exec(select(LetterVersion).where(LetterVersion.letter_id == letter_id)
                             .order_by(LetterVersion.version_no)).all())


def events_of(session: Session, *, letter_id: int) -> list[LetterEvent]:
    return list(session.exec(select(LetterEvent).where(LetterEvent.letter_id == letter_id)
                             .order_by(LetterEvent.seq)).all())


def attachments_of(session: Session, *, letter_id: int) -> list[LetterAttachment]:
    return list(session.exec(select(LetterAttachment).where(LetterAttachment.letter_id == letter_id)
                             .order_by(LetterAttachment.id)).all())


def has_photo(session: Session, *, letter_id: int) -> bool:
    """Whether a stamped-page photo is attached (without loading the images)."""
    return session.exec(select(LetterAttachment.id).where(LetterAttachment.letter_id == letter_id)
                        .limit(1)).first() is not None


def version_content(version: LetterVersion) -> dict:
    return json.loads(version.canonical_json)


# --- writing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signature:
    """How the representative signed: typed full name in chat, or drawn on the sign page."""

    signed_name: str
    channel: str = "chat"  # chat | sign_page
    method: str = "typed"  # typed | drawn
    ip: str | None = None
    user_agent: str | None = None
    png: bytes | None = None


def sign_letter(session: Session, *, company: Company, line_user_id: str, display_name: str | None,
                fields: dict, campaign: dict, signature: Signature, consent_sha256: str,
                timeline: dict | None = None, now: datetime | None = None) -> tuple[Letter, LetterVersion]:
    """Write a signed version (a correction when the company already has a signed letter), its
    audit events and the company's letter status. Everything in the caller's transaction."""
    if not is_member(session, company_id=company.id, line_user_id=line_user_id):
        raise NotAMember(company.id)  # only a member signs for a company (issue 18)
    if not _tax_id_fits(session, company=company, tax_id=fields.get("tax_id")):
        raise TaxIdNotTheCompanys(company.id)  # before anything is written
    now = _second(now or utc_now())
    timeline = timeline or {}
    letter = letter_of_company(session, company_id=company.id, lock=True)
    previous = current_version(session, letter=letter) if letter else None
    correcting = letter is not None and letter.status == "signed" and previous is not None
    if letter is None:
        letter = Letter(program_id=company.program_id, company_id=company.id, owner_line_user_id=line_user_id,
                        created_at=now)
        session.add(letter)
        session.flush()
    for kind in ("started", "viewed", "consented"):
        at = timeline.get(f"{kind}_at")
        append_event(session, letter=letter, kind=kind, actor=line_user_id,
                     at=datetime.fromisoformat(at) if at else now,
                     **({"consent_sha256": consent_sha256} if kind == "consented" else {}))
    fields = {name: fields.get(name) for name in doc.FIELDS}
    content = {
        "schema": "gonghao-letter/1",
        "program_id": company.program_id,
        "letter_id": letter.id,
        "company_id": company.id,
        "version_no": letter.version_count + 1,
        "supersedes_sha256": previous.sha256 if correcting else None,
        "campaign": doc.campaign_snapshot(campaign),
        "fields": fields,
        "letter_text": doc.render_text(campaign, fields, signed_at=now, signed_name=signature.signed_name),
        "consent_sha256": consent_sha256,
        "signer": {"line_user_id": line_user_id, "display_name": display_name, "signed_name": signature.signed_name,
                   "method": signature.method,
                   "signature_png_sha256": doc.sha256_hex(signature.png) if signature.png else None},
        "channel": signature.channel, "ip": signature.ip, "user_agent": signature.user_agent,
        "signed_at": doc.taipei_iso(now),
        "timeline": {key: timeline.get(key) for key in ("started_at", "viewed_at", "consented_at")},
    }
    canonical = doc.canonical_json(content)
    version = LetterVersion(
        letter_id=letter.id, version_no=content["version_no"], supersedes_id=previous.id if correcting else None,
        canonical_json=canonical, sha256=doc.sha256_hex(canonical), consent_sha256=consent_sha256,
        signer_line_user_id=line_user_id, signer_display_name=display_name, signed_name=signature.signed_name,
        channel=signature.channel, ip=signature.ip, user_agent=(signature.user_agent or None) and signature.user_agent[:400],
        signature_png=signature.png, signed_at=now)
    session.add(version)
    session.flush()
    if correcting:
        append_event(session, letter=letter, kind="corrected", actor=line_user_id, at=now, version=version,
                     supersedes_sha256=previous.sha256, version_sha256=version.sha256)
    append_event(session, letter=letter, kind="signed", actor=line_user_id, at=now, version=version,
                 version_sha256=version.sha256, channel=signature.channel, method=signature.method)
    letter.status = "signed"
    letter.withdrawn_at = None
    letter.current_version_id = version.id
    letter.version_count = version.version_no
    letter.owner_line_user_id = line_user_id
    session.add(letter)
    _update_company(session, company=company, fields=fields, status="signed")
    session.flush()
    return letter, version


def _update_company(session: Session, *, company: Company, fields: dict | None, status: str) -> None:
    """Company.letter_status (other domains filter on it) and, when unknown, the location the
    預定輔導企業彙總表 needs (from the letter's address)."""
    company.letter_status = status
    if fields:
        if not company.county and fields.get("address"):
            county, township = doc.split_address(fields["address"])
            company.county, company.township = county, township or company.township
        if not company.name and fields.get("company_name"):
            company.name = fields["company_name"]
        tax_id = fields.get("tax_id")
        if not company.tax_id and tax_id and session.exec(select(Company.id).where(Company.tax_id == tax_id)).first() is None:
            company.tax_id = tax_id
    company.updated_at = utc_now()
    session.add(company)


def withdraw_letter(session: Session, *, letter: Letter, actor: str, campaign: dict, now: datetime | None = None,
                    reason: str | None = None) -> LetterEvent:
    """Withdraw before the proposal deadline (002 伍 三 申請截止); the versions stay on record."""
    now = now or utc_now()
    deadline = campaign.get("proposal_deadline")
    if deadline and now > doc.parse_roc_datetime(deadline):
        raise WithdrawalClosed(deadline)
    event = append_event(session, letter=letter, kind="withdrawn", actor=actor, at=now,
                         version=current_version(session, letter=letter), **({"reason": reason} if reason else {}))
    letter.status = "withdrawn"
    letter.withdrawn_at = event.at
    session.add(letter)
    company = session.get(Company, letter.company_id)
    if company is not None:
        _update_company(session, company=company, fields=None, status="withdrawn")
    session.flush()
    return event


def attach_photo(session: Session, *, letter: Letter, content: bytes, actor: str,
                 line_message_id: str | None = None, now: datetime | None = None) -> LetterAttachment:
    version = current_version(session, letter=letter)
    mime = sniff_mime(content)
    if not mime.startswith("image/"):
        mime = "image/jpeg"  # LINE sends photos as JPEG
    attachment = LetterAttachment(letter_id=letter.id, version_id=version.id if version else None, mime=mime,
                                  sha256=doc.sha256_hex(content), size=len(content), content=content,
                                  line_message_id=line_message_id)
    session.add(attachment)
    session.flush()
    append_event(session, letter=letter, kind="photo_attached", actor=actor, at=now, version=version,
                 attachment_id=attachment.id, sha256=attachment.sha256, size=attachment.size)
    return attachment


def record_download(session: Session, *, letter: Letter, version: LetterVersion, actor: str, via: str) -> LetterEvent:
    return append_event(session, letter=letter, kind="downloaded", actor=actor, version=version, via=via)


# --- verification --------------------------------------------------------------------------------

def verify_letter(session: Session, *, letter: Letter) -> list[str]:
    """Problems found in one letter's record (empty list: intact)."""
    problems: list[str] = []
    events = events_of(session, letter_id=letter.id)
    prev = ""
    for index, event in enumerate(events, start=1):
        if event.seq != index:
            problems.append(f"event seq {event.seq} where {index} expected (missing or reordered)")
        if event.prev_hash != prev:
            problems.append(f"event {event.seq}: prev_hash does not link to event {index - 1}")
        if event_hash(event.prev_hash, event) != event.hash:
            problems.append(f"event {event.seq} ({event.kind}): content does not match its hash")
        prev = event.hash
    if letter.event_count != len(events) or (letter.head_hash or "") != prev:
        problems.append("chain head does not match the letter (events added or removed)")
    signed_hashes = {e.detail.get("version_sha256") for e in events if e.kind == "signed"}
    # An erasure request (privacy/letters_retention.py) may redact a retained version: its
    # sha256 column keeps what was signed, and a chained 'redacted' event records both hashes.
    redactions = {(str(version_id), item.get("original_sha256"), item.get("redacted_sha256"))
                  for e in events if e.kind == "redacted"
                  for version_id, item in ((e.detail or {}).get("versions") or {}).items()}
    for version in versions_of(session, letter_id=letter.id):
        label = f"version {version.version_no}"
        actual = doc.sha256_hex(version.canonical_json)
        if actual != version.sha256 and (str(version.id), version.sha256, actual) not in redactions:
            problems.append(f"{label}: canonical JSON does not match its SHA-256")
            continue
        content = json.loads(version.canonical_json)
        expected = {"letter_id": letter.id, "version_no": version.version_no, "consent_sha256": version.consent_sha256,
                    "channel": version.channel, "signed_at": doc.taipei_iso(version.signed_at)}
        for key, value in expected.items():
            if content.get(key) != value:
                problems.append(f"{label}: column {key} differs from the signed content")
        signer = content.get("signer") or {}
        if signer.get("line_user_id") != version.signer_line_user_id or signer.get("signed_name") != version.signed_name:
            problems.append(f"{label}: signer columns differ from the signed content")
        png_hash = doc.sha256_hex(version.signature_png) if version.signature_png else None
        if signer.get("signature_png_sha256") != png_hash:
            problems.append(f"{label}: signature image differs from the signed content")
        if version.sha256 not in signed_hashes:
            problems.append(f"{label}: no 'signed' event in the audit trail")
    attached = {e.detail.get("sha256") for e in events if e.kind == "photo_attached"}
    for attachment in attachments_of(session, letter_id=letter.id):
        if doc.sha256_hex(attachment.content) != attachment.sha256 or attachment.sha256 not in attached:
            problems.append(f"attachment {attachment.id}: content does not match the audit trail")
    return problems


def verify_version_hash(session: Session, *, sha256: str) -> dict | None:
    """What the public verification page may say about a version SHA-256: whether a signed
    version with it is on record, whether it is the letter's current one (or superseded or
    withdrawn), its signing date and whether its record is intact. No names, no ids."""
    version = session.exec(select(LetterVersion).where(LetterVersion.sha256 == sha256.lower())).first()
    if version is None:
        return None
    letter = session.get(Letter, version.letter_id)
    if letter.status == "withdrawn":
        status = "withdrawn"
    else:
        status = "current" if letter.current_version_id == version.id else "superseded"
    return {"status": status, "version_no": version.version_no, "signed_at": version.signed_at,
            "intact": not verify_letter(session, letter=letter)}


def verify_all(session: Session) -> dict:
    letters = list(session.exec(select(Letter).order_by(Letter.id)).all())
    report = {"letters": len(letters), "events": 0, "versions": 0, "problems": {}}
    for letter in letters:
        report["events"] += letter.event_count
        report["versions"] += letter.version_count
        problems = verify_letter(session, letter=letter)
        if problems:
            report["problems"][letter.id] = problems
    report["ok"] = not report["problems"]
    return report


# --- staff outputs -------------------------------------------------------------------------------

def recruited_companies(session: Session, *, program_id: str) -> list[Company]:
    """Businesses counted as recruited: eligible (or holding a letter) and not withdrawn/replaced."""
    companies = session.exec(select(Company).where(Company.program_id == program_id).order_by(Company.id)).all()
    return [c for c in companies
            if (c.verdict == "eligible" or c.letter_status == "signed") and c.status == "active"]


def prior_programmes(company: Company) -> list[str]:
    """The 112年 government programmes the intake recorded (for 附件一's last column)."""
    answers = company.answers or {}
    names = list(answers.get("prior_funding") or [])
    names += [str(n) for n in answers.get("other_programmes") or []]
    return names


def companies_table(session: Session, *, program_id: str, config: dict | None = None) -> tuple[list[str], list[list]]:
    """附件一 預定輔導企業彙總表: header and rows (seed 002 柒 1)."""
    tpl = doc.template()
    labels = _prior_labels(program_id, config)
    rows = []
    for index, company in enumerate(recruited_companies(session, program_id=program_id), start=1):
        kind = doc.registration_kind(company.registration)
        location = "/".join(part for part in (company.county, company.township) if part)
        prior = prior_programmes(company)
        rows.append([index, company.tax_id or "", company.employees if company.employees is not None else "",
                     company.name or "", location, company.main_product or "",
                     {"registered": 1, "tax_only": 2}.get(kind, ""),
                     tpl["export_prior_yes"].format(names="、".join(labels.get(p, p) for p in prior)) if prior
                     else tpl["export_prior_no"]])
    return list(tpl["export_companies_columns"]), rows


def _prior_labels(program_id: str, config: dict | None) -> dict:
    """Labels of the intake's prior-funding choices, from the programmes file."""
    if not config:
        return {}
    fields = (doc.programme_data(config, program_id).get("eligibility") or {}).get("fields") or {}
    return dict((fields.get("prior_funding") or {}).get("choices") or {})


def letters_table(session: Session, *, program_id: str | None = None) -> list[dict]:
    """Every letter with its status and current version (staff JSON and letters.csv)."""
    statement = select(Letter).order_by(Letter.id)
    if program_id:
        statement = statement.where(Letter.program_id == program_id)
    with_photo = set(session.exec(select(LetterAttachment.letter_id).distinct()).all())
    result = []
    for letter in session.exec(statement).all():
        company = session.get(Company, letter.company_id)
        version = current_version(session, letter=letter)
        result.append({
            "id": letter.id, "program_id": letter.program_id, "company_id": letter.company_id,
            "company_name": company.name if company else None, "tax_id": company.tax_id if company else None,
            "status": letter.status, "version": version.version_no if version else None,
            "versions": letter.version_count, "sha256": version.sha256 if version else None,
            "signed_at": doc.taipei_iso(version.signed_at) if version else None,
            "signed_at_roc": format_roc_datetime(version.signed_at) if version else None,
            "channel": version.channel if version else None,
            "signer_display_name": version.signer_display_name if version else None,
            "withdrawn_at": doc.taipei_iso(letter.withdrawn_at) if letter.withdrawn_at else None,
            "photo_attached": letter.id in with_photo, "events": letter.event_count,
        })
    return result


def letters_csv_rows(letters: list[dict]) -> tuple[list[str], list[list]]:
    tpl = doc.template()
    status_text = tpl["letter_status"]
    channels = tpl["certificate"]
    rows = [[index, item["company_name"] or "", item["tax_id"] or "", status_text.get(item["status"], item["status"]),
             item["version"] or "", item["signed_at_roc"] or "",
             channels.get(f"channel_{item['channel']}", "") if item["channel"] else "",
             "Y" if item["photo_attached"] else "", item["sha256"] or ""]
            for index, item in enumerate(letters, start=1)]
    return list(tpl["export_letters_columns"]), rows


def summary(session: Session, *, program_id: str, campaign: dict, now: datetime | None = None) -> dict:
    """Recruited vs the tier, letters signed vs the required ratio, replacements vs the limit
    (002 叁 輔導家數及經費 and 注意事項)."""
    now = now or utc_now()
    recruited = recruited_companies(session, program_id=program_id)
    count = len(recruited)
    track = campaign.get("track") or "popularization"
    tiers = list((campaign.get("tiers") or {}).get(track) or [])
    tier = next((t for t in tiers if t["min"] <= count <= t["max"]), None)
    if tier is None and tiers and count > tiers[-1]["max"]:
        tier = tiers[-1]
    minimum = tiers[0]["min"] if tiers else None
    letters = session.exec(select(Letter).where(Letter.program_id == program_id)).all()
    signed = [letter for letter in letters if letter.status == "signed"]
    accepted = bool(campaign.get("accepted"))
    required = float(campaign.get("letters_ratio_after_acceptance" if accepted else "letters_ratio_at_proposal") or 0)
    ratio = len(signed) / count if count else 0.0
    needed = max(0, math.ceil(required * count - 1e-9) - len(signed))
    # Replacements (入案後抽換): letters signed by the proposal deadline that were later withdrawn,
    # plus companies staff marked replaced; measured against the letters submitted at proposal.
    deadline = campaign.get("proposal_deadline")
    cutoff = doc.parse_roc_datetime(deadline) if deadline else None
    at_proposal = [letter for letter in letters if cutoff is None or letter.created_at <= cutoff]
    replaced_companies = {c.id for c in session.exec(select(Company).where(Company.program_id == program_id,
                                                                            Company.status == "replaced")).all()}
    replaced = [letter for letter in at_proposal
                if letter.status == "withdrawn" or letter.company_id in replaced_companies]
    limit = float(campaign.get("replacement_limit") or 0.5)
    replacement_ratio = len(replaced) / len(at_proposal) if at_proposal else 0.0
    return {
        "program": program_id, "track": track, "as_of": doc.taipei_iso(now),
        "recruited": count,
        "tier": tier, "tiers": tiers, "meets_minimum": minimum is not None and count >= minimum,
        "short_of_minimum": max(0, (minimum or 0) - count),
        "letters": {"signed": len(signed), "withdrawn": sum(1 for l in letters if l.status == "withdrawn"),
                    "ratio": round(ratio, 4), "phase": "after_acceptance" if accepted else "proposal",
                    "required_ratio": required, "met": count > 0 and ratio + 1e-9 >= required,
                    "still_needed": needed},
        "replacements": {"count": len(replaced), "base": len(at_proposal), "ratio": round(replacement_ratio, 4),
                         "limit": limit, "within_limit": replacement_ratio <= limit + 1e-9},
    }
