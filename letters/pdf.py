"""The signed letter as a PDF (fpdf2), laid out like seed 002 附件二, with a Traditional Chinese
font embedded (Noto Sans CJK TC; Debian/Ubuntu package ``fonts-noto-cjk``), the signature block
filled, the stamped-page photo as an annex, and a last page certifying the record: signer, times,
hashes and the audit trail.

Everything printed comes from the version's canonical JSON (what was signed), not from current
company data."""
from __future__ import annotations

import io
import json
import logging
import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from bot.texts import t
from bot.timeutil import format_roc_datetime
from letters import document as doc
from letters.models import Letter, LetterAttachment, LetterEvent, LetterVersion

# fontTools logs every subsetting step at INFO; that is noise in the app log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# Where distributions install Noto Sans CJK (TC face) or Noto Sans TC; first match wins.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",        # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",             # Arch noto-fonts-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",      # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansCJKtc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansTC-Regular.ttf",
    "/usr/share/fonts/noto/NotoSansTC-Regular.otf",
    "/Library/Fonts/NotoSansCJKtc-Regular.otf",
)


class FontMissing(RuntimeError):
    """No Traditional Chinese font: the PDF cannot be produced."""


@lru_cache(maxsize=4)
def find_font(configured: str | None = None) -> tuple[str, int]:
    """(path, face index) of a Traditional Chinese font. ``LETTERS_FONT_PATH`` (config or
    environment) wins; a .ttc collection uses its TC face."""
    candidates = [p for p in (configured, os.environ.get("LETTERS_FONT_PATH")) if p] + list(FONT_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return str(path), _tc_face(path)
    raise FontMissing(
        "No Traditional Chinese font found for letter PDFs. Install Noto Sans CJK "
        "(Debian/Ubuntu: apt-get install fonts-noto-cjk) or set LETTERS_FONT_PATH to a .ttf/.otf/.ttc "
        f"with Traditional Chinese glyphs. Looked in: {', '.join(candidates)}")


def _tc_face(path: Path) -> int:
    if path.suffix.lower() != ".ttc":
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        for index, font in enumerate(collection.fonts):
            name = font["name"].getDebugName(4) or ""
            if name.endswith(" TC") and "Mono" not in name:
                return index
    finally:
        collection.close()
    return 0


class LetterPDF(FPDF):
    def __init__(self, font: tuple[str, int], footer_text: str, mark: str = ""):
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.mark = mark  # 「範例」 on every page of a letter signed on example values
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=16)
        path, index = font
        self.add_font("cjk", "", path, collection_font_number=index)
        self.set_font("cjk", size=10.5)

    def header(self):
        if not self.mark:
            return
        self.set_font("cjk", size=11)
        self.set_text_color(200, 30, 30)
        self.set_xy(self.l_margin, 6)
        self.cell(0, 6, self.mark, align="R")
        self.set_text_color(0)
        self.set_font("cjk", size=10.5)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self):
        self.set_y(-12)
        self.set_font("cjk", size=7.5)
        self.set_text_color(120)
        self.cell(0, 5, f"{self.footer_text}　第 {self.page_no()} 頁", align="C")
        self.set_text_color(0)
        self.set_font("cjk", size=10.5)


def _lines(pdf: FPDF, text: str, *, size: float = 10.5, height: float = 6, align: str = "L") -> None:
    pdf.set_font("cjk", size=size)
    pdf.multi_cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10.5)


def _footer(letter: Letter, version: LetterVersion) -> str:
    return f"{doc.template()['certificate']['letter_id']} {letter.id}-v{version.version_no}　SHA-256 {version.sha256[:16]}…"


def render_letter_pdf(*, letter: Letter, version: LetterVersion, events: list[LetterEvent],
                      attachments: list[LetterAttachment], current: bool = True,
                      font_path: str | None = None, verify_url: str = "") -> bytes:
    """``verify_url``: the public page where anyone holding this PDF can check it against the
    record (letters.verify); the certificate names it instead of an operator command."""
    pdf = LetterPDF(find_font(font_path), _footer(letter, version))
    pdf.set_title(doc.template()["subtitle"])
    pdf.set_subject(f"SHA-256 {version.sha256}")  # what the verification page reads back
    pdf.set_creator("gonghao-line-bot")
    _draw_letter(pdf, letter=letter, version=version, events=events, attachments=attachments, current=current,
                 verify_url=verify_url)
    return bytes(pdf.output())


def render_letters_pdf(items: list[dict], *, title: str, font_path: str | None = None,
                       verify_url: str = "") -> bytes:
    """Several letters in one PDF, each from a new page with a bookmark (``item["title"]``; the
    other keys as for ``render_letter_pdf``). One font load and one font subset for all: a PDF per
    letter costs about a second each (fontTools), one file for 60 letters a few seconds."""
    pdf = LetterPDF(find_font(font_path), "")
    pdf.set_title(title)
    pdf.set_creator("gonghao-line-bot")
    for item in items:
        _draw_letter(pdf, letter=item["letter"], version=item["version"], events=item["events"],
                     attachments=item["attachments"], current=item.get("current", True), bookmark=item["title"],
                     verify_url=verify_url)
    return bytes(pdf.output())


def _draw_letter(pdf: "LetterPDF", *, letter: Letter, version: LetterVersion, events: list[LetterEvent],
                 attachments: list[LetterAttachment], current: bool, bookmark: str | None = None,
                 verify_url: str = "") -> None:
    tpl = doc.template()
    cert = tpl["certificate"]
    content = json.loads(version.canonical_json)
    fields = content["fields"]
    campaign = content["campaign"]
    signed_at = version.signed_at
    # Set before add_page: the new page's header draws it.
    pdf.mark = f"{t('campaign.letter_mark')}{t('campaign.letter_mark_note')}" if campaign.get("demo") else ""
    pdf.add_page()  # closes the previous letter's last page with its own footer
    pdf.footer_text = _footer(letter, version)
    if bookmark:
        pdf.start_section(bookmark)

    # Title, preamble (附件二 header)
    _lines(pdf, doc._fmt(tpl["title"], campaign), size=13, height=8, align="C")
    _lines(pdf, tpl["subtitle"], size=16, height=10, align="C")
    pdf.ln(2)
    _lines(pdf, doc._fmt(tpl["preamble"], campaign))
    pdf.ln(2)

    # 一、企業基本資料
    labels = tpl["labels"]
    _lines(pdf, tpl["section1"])
    checked = {kind: ("■" if fields.get("registration") == kind else "□") for kind in ("registered", "tax_only")}
    registration = "　　".join(f"{checked[k]} {tpl['registration_options'][k]}" for k in ("registered", "tax_only"))
    label_style = FontFace(fill_color=(238, 238, 238))
    with pdf.table(col_widths=(20, 36, 18, 32, 16, 52), text_align="LEFT", first_row_as_headings=False,
                   line_height=7, padding=1.5) as table:
        row = table.row()
        row.cell(labels["company_name"], style=label_style)
        row.cell(fields.get("company_name") or "", colspan=3)
        row.cell(labels["tax_id"], style=label_style)
        row.cell(fields.get("tax_id") or "")
        row = table.row()
        row.cell(labels["registration"], style=label_style)
        row.cell(registration, colspan=5)
        row = table.row()
        row.cell(labels["employees"], style=label_style)
        row.cell(doc.field_value("employees", fields), colspan=5)
        row = table.row()
        for name in ("contact_name", "mobile", "phone"):
            row.cell(labels[name], style=label_style)
            row.cell(fields.get(name) or "")
        row = table.row()
        row.cell(labels["email"], style=label_style)
        row.cell(fields.get("email") or "", colspan=5)
    pdf.ln(3)

    # 二、solution and coaching
    _lines(pdf, doc._fmt(tpl["section2"], campaign))
    solution = campaign.get("solution") or {}
    items = [f"• {item}" for item in solution.get("items") or []]
    if solution.get("sla"):
        items.append(f"• {tpl['sla_prefix']}{solution['sla']}")
    if solution.get("integration_services"):
        items.append(f"• {tpl['integration_prefix']}{solution['integration_services']}")
    with pdf.table(col_widths=(40, 134), text_align="LEFT", first_row_as_headings=False, line_height=6.5,
                   padding=1.5) as table:
        row = table.row()
        row.cell(doc._fmt(tpl["solution_label"], campaign), colspan=2, style=label_style)
        row = table.row()
        row.cell(tpl["usage_period_label"], style=label_style)
        row.cell(campaign.get("usage_period") or "")
        row = table.row()
        row.cell(tpl["content_label"], style=label_style)
        row.cell("\n".join(items))
        row = table.row()
        row.cell(tpl["other_coaching_label"], style=label_style)
        row.cell("\n".join(f"• {item}" for item in campaign.get("other_coaching") or []))
    pdf.ln(3)

    # 三–七 (the consent text, exactly as hashed)
    _lines(pdf, doc.consent_text(), size=9.5, height=5.5)
    pdf.ln(3)

    # Signature block
    if pdf.get_y() > pdf.h - 90:
        pdf.add_page()
    _lines(pdf, tpl["signature_intro"])
    top = pdf.get_y()
    for name, label in tpl["signature_labels"].items():
        pdf.cell(110, 8, f"{label}：{fields.get(name) or ''}", new_x="LMARGIN", new_y="NEXT")
    if version.signature_png:
        pdf.image(io.BytesIO(version.signature_png), x=70, y=top + 5, h=11)
        note = tpl["signed_drawn"]
    else:
        note = tpl["signed_typed"]
    _lines(pdf, f"{labels['representative']}：{version.signed_name}　{note}", size=9)
    parts = doc.roc_date_parts(signed_at)
    pdf.ln(2)
    _lines(pdf, tpl["date_format"].format(**parts), align="C")
    # 公司大小章 box (the photo of the stamped page is the annex)
    pdf.rect(140, top, 52, 40)
    pdf.set_xy(140, top + 17)
    pdf.cell(52, 6, tpl["stamp_label"], align="C")
    photos = [a for a in attachments if a.kind == "stamped_page"]
    if photos:
        pdf.set_xy(140, top + 24)
        pdf.set_font("cjk", size=8)
        pdf.cell(52, 5, tpl["stamp_see_annex"], align="C")
        pdf.set_font("cjk", size=10.5)
    pdf.set_xy(pdf.l_margin, max(pdf.get_y(), top + 44))

    for photo in photos:
        pdf.add_page()
        _lines(pdf, tpl["annex_title"], size=13, height=8)
        try:
            pdf.image(io.BytesIO(photo.content), x=pdf.l_margin, w=pdf.epw)
        except Exception:  # an image fpdf cannot read: keep its hash on record instead
            _lines(pdf, f"SHA-256 {photo.sha256}")

    # Certificate
    pdf.add_page()
    _lines(pdf, cert["title"], size=15, height=9, align="C")
    pdf.ln(2)
    status = cert["status_signed"] if current and letter.status == "signed" else (
        cert["status_withdrawn"] if letter.status == "withdrawn" else cert["status_superseded"])
    channel = cert.get(f"channel_{version.channel}", version.channel)
    rows = [
        (cert["letter_id"], str(letter.id)), (cert["version"], str(version.version_no)), (cert["status"], status),
        (cert["company"], f"{fields.get('company_name') or ''}（{fields.get('tax_id') or ''}）"),
        (cert["signer"], version.signer_display_name or ""), (cert["signer_id"], version.signer_line_user_id),
        (cert["signed_name"], version.signed_name), (cert["signed_at"], _taipei(signed_at)),
        (cert["channel"], channel),
    ]
    if version.channel == "sign_page":
        rows += [(cert["ip"], version.ip or ""), (cert["user_agent"], version.user_agent or "")]
    rows += [(cert["consent_hash"], version.consent_sha256), (cert["version_hash"], version.sha256)]
    if content.get("supersedes_sha256"):
        rows.append((cert["supersedes"], content["supersedes_sha256"]))
    with pdf.table(col_widths=(56, 118), text_align="LEFT", first_row_as_headings=False, line_height=6,
                   padding=1.2) as table:
        for key, value in rows:
            row = table.row()
            row.cell(key, style=label_style)
            row.cell(value)
    pdf.ln(4)
    _lines(pdf, cert["trail"], size=12, height=8)
    names = tpl["events"]
    pdf.set_font("cjk", size=8.5)
    with pdf.table(col_widths=(9, 31, 24, 62, 48), text_align="LEFT", line_height=5, padding=1,
                   headings_style=FontFace(fill_color=(220, 220, 220))) as table:
        table.row(cert["trail_columns"])
        for event in events:
            table.row([str(event.seq), _taipei(event.at), names.get(event.kind, event.kind), event.actor or "",
                       event.hash[:20] + "…"])
    pdf.set_font("cjk", size=10.5)
    pdf.ln(3)
    _lines(pdf, cert["note"].format(url=verify_url or cert["verify_path"]), size=8.5, height=5)


def _taipei(moment: datetime) -> str:
    return f"{format_roc_datetime(moment)}:{doc.to_taipei(moment):%S}"
