"""What letters of intent contribute to checkpoints (checkpoints.metrics / checkpoints.evidence):
the 帶動企業家數 metric, the letter columns of the company list, and the letters' PDFs."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from checkpoints.evidence import register_company_columns, register_section, roc
from checkpoints.metrics import MetricResult, register_metric
from letters import links, service
from letters.models import Letter, LetterVersion
from letters.pdf import FontMissing, render_letters_pdf


def signed_companies(session: Session, *, program, as_of) -> MetricResult:
    """Companies with a letter of intent signed by ``as_of`` (still active, not withdrawn). Every
    programme company has one by definition, so no per-company column."""
    from checkpoints.service import programme_companies

    return MetricResult(done=len(programme_companies(session, program_id=program.id, as_of=as_of)))


register_metric("letters.signed", signed_companies)


def _letters(session: Session, company_ids: list[int]) -> dict[int, tuple[Letter, object]]:
    """{company id: (letter, first signed_at)}."""
    if not company_ids:
        return {}
    first = dict(session.exec(select(LetterVersion.letter_id, sa.func.min(LetterVersion.signed_at))
                              .group_by(LetterVersion.letter_id)).all())
    letters = session.exec(select(Letter).where(Letter.company_id.in_(company_ids))).all()
    return {letter.company_id: (letter, first.get(letter.id)) for letter in letters}


STATUS = {"signed": "已簽署", "withdrawn": "已撤回"}


def letter_columns(session: Session, *, companies, program, as_of):
    found = _letters(session, [c.id for c in companies])
    values = {}
    for company in companies:
        letter, signed_at = found.get(company.id, (None, None))
        values[company.id] = [STATUS.get(letter.status, letter.status) if letter else "未簽署",
                              roc(signed_at) if signed_at else "", letter.version_count if letter else ""]
    return ["意向書狀態", "意向書簽署日", "意向書版本"], values


register_company_columns("letters", order=10, columns=letter_columns)


def write_letter_pdfs(session: Session, pack) -> None:
    """Every listed company's letter (current version) in one PDF, a bookmark per company — the
    same pages as each letter's own PDF (one font subset for all: a few seconds instead of a
    minute for 60 letters)."""
    found = _letters(session, [c.id for c in pack.companies])
    items = []
    for index, company in enumerate(pack.companies, start=1):
        letter = found.get(company.id, (None, None))[0]
        version = service.current_version(session, letter=letter) if letter else None
        if version is None:
            continue
        items.append({"title": f"{index:03d} {pack.company_label(company)}", "letter": letter, "version": version,
                      "events": service.events_of(session, letter_id=letter.id),
                      "attachments": service.attachments_of(session, letter_id=letter.id)})
    pack.counts["letters"] = len(items)
    if not items:
        return
    try:
        pdf = render_letters_pdf(items, title="企業合作意向書", font_path=pack.config.get("LETTERS_FONT_PATH"),
                                 verify_url=links.verify_url(pack.config))
    except FontMissing:
        pack.notes.append("伺服器缺少中文字型，意向書 PDF 未能產生（請安裝 fonts-noto-cjk）。")
        pack.counts["letters"] = 0
        return
    pack.add_file("企業合作意向書.pdf", pdf)


register_section("letters", order=50, title="企業合作意向書", write=write_letter_pdfs)
