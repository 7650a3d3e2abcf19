"""HTTP for letters: the owner's pages (full text, sign page, PDF link) and the staff endpoints
(bearer STAFF_API_TOKEN): companies.csv (附件一 預定輔導企業彙總表), letters (JSON/CSV), summary,
and every letter's PDF."""
from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlmodel import select

from bot.db import utc_now
from bot.models import Conversation
from bot.outbox import enqueue_push
from bot.security import content_disposition
from bot.services import audit, find_user
from bot.spreadsheet import spreadsheet_csv
from bot.staff_auth import require_staff_token
from bot.texts import t
from bot.http import int_arg
from dialogs import framework as fw
from letters import document as doc
from letters import links, service
from letters.models import Letter, LetterVersion
from letters.pdf import FontMissing, render_letter_pdf

try:  # the staff dashboard's guard: the bearer token, or a staff member's browser session
    from staff.auth import current_actor as staff_actor
    from staff.auth import require_staff as staff_only
except ImportError:  # pragma: no cover - without the dashboard: bearer STAFF_API_TOKEN only
    staff_only, staff_actor = require_staff_token, (lambda: "staff-token")

bp = Blueprint("letters", __name__, template_folder="templates")
staff_bp = Blueprint("letters_staff", __name__, url_prefix="/staff")

MAX_SIGNATURE_BYTES = 400_000  # a 600x180 canvas PNG is far smaller; anything bigger is not a signature


def _runtime():
    return current_app.extensions["bot"]


def _message(text: str, status: int, kind: str = "error"):
    return render_template("letters/message.html", message=text, kind=kind), status


def _conversation_for(token: str, purpose: str, session, *, lock: bool = False) -> Conversation | None:
    payload = links.read_token(current_app.config, purpose, token, max_age=links.PAGE_MAX_AGE)
    if payload is None:
        return None
    statement = select(Conversation).where(Conversation.line_user_id == payload.get("u"))
    if lock:
        statement = statement.with_for_update()
    conversation = session.exec(statement).first()
    if conversation is None or conversation.flow != fw.FlowId.LETTER.value or conversation.session_id != payload.get("s"):
        return None
    return conversation


def _letter_text(data: dict) -> str:
    campaign = doc.campaign_settings(current_app.config, data.get("program_id") or "gonghao-2023")
    return doc.render_text(campaign, {name: data.get(name) for name in doc.FIELDS})


# --- the owner's pages ---------------------------------------------------------------------------

@bp.get("/letters/draft/<token>")
def draft(token: str):
    with _runtime().database.session() as session:
        conversation = _conversation_for(token, links.DRAFT, session)
        if conversation is None:
            return _message(t("letters.page_expired"), 410)
        text = _letter_text(conversation.data or {})
    return render_template("letters/draft.html", text=text, notice=t("letters.draft_notice"))


def _sign_page(conversation: Conversation, error: str | None = None, status: int = 200):
    data = conversation.data or {}
    return render_template("letters/sign.html", text=_letter_text(data), company=data.get("company_name", ""),
                           representative=data.get("representative", ""), error=error), status


@bp.get("/letters/sign/<token>")
def sign_page(token: str):
    with _runtime().database.session() as session:
        conversation = _conversation_for(token, links.SIGN, session)
        if conversation is None or conversation.step != "sign":
            return _message(t("letters.page_expired"), 410)
        return _sign_page(conversation)


def _decode_png(data_url: str) -> bytes | None:
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        return None
    try:
        png = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or not 100 <= len(png) <= MAX_SIGNATURE_BYTES:
        return None
    return png


@bp.post("/letters/sign/<token>")
def sign_submit(token: str):
    from letters.flows import complete_signing, same_name

    runtime = _runtime()
    png = _decode_png(request.form.get("signature", ""))
    typed = request.form.get("signed_name", "")
    with runtime.database.write_session() as session:
        conversation = _conversation_for(token, links.SIGN, session, lock=True)
        if conversation is None or conversation.step != "sign":
            return _message(t("letters.page_expired"), 410)
        data = dict(conversation.data or {})
        representative = data.get("representative", "")
        if not same_name(typed, representative):
            return _sign_page(conversation, t("letters.invalid_sign", name=representative), 422)
        if png is None:
            return _sign_page(conversation, t("letters.sign_draw_first"), 422)
        ctx = fw.Context(user_id=conversation.line_user_id, now=utc_now(), flow=conversation.flow,
                         step=conversation.step, session_id=conversation.session_id, data=data,
                         history=tuple(conversation.history or ()), memory=dict(conversation.memory or {}),
                         consented=True, services=runtime.services)
        signature = service.Signature(signed_name=representative, channel="sign_page", method="drawn",
                                      ip=request.remote_addr, user_agent=request.user_agent.string[:400], png=png)
        turn = complete_signing(session=session, services=runtime.services, ctx=ctx, signature=signature)
        # The conversation moves past the sign step (so this link is spent) in the same commit as
        # the signed version and the confirmation push.
        new = turn.ctx
        conversation.flow, conversation.step, conversation.session_id = new.flow, new.step, new.session_id
        conversation.data, conversation.history, conversation.memory = dict(new.data), list(new.history), dict(new.memory)
        conversation.updated_at = utc_now()
        session.add(conversation)
        enqueue_push(session, to=ctx.user_id, replies=turn.replies,
                     idempotency_key=f"letter-signed:{new.data.get('version_id')}", origin="letters:sign_page")
    runtime.sender.deliver_due()
    return _message(t("letters.page_signed"), 200, kind="notice")


def _pdf_response(pdf: bytes, letter: Letter, version: LetterVersion) -> Response:
    name = f"letter-{letter.id}-v{version.version_no}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition("inline", name),
                             "Cache-Control": "private, no-store"})


def _render(session, letter: Letter, version: LetterVersion) -> bytes:
    return render_letter_pdf(letter=letter, version=version, events=service.events_of(session, letter_id=letter.id),
                             attachments=service.attachments_of(session, letter_id=letter.id),
                             current=letter.current_version_id == version.id,
                             font_path=current_app.config.get("LETTERS_FONT_PATH"),
                             verify_url=links.verify_url(current_app.config))


def _download(letter_id: int, version_id: int | None, *, actor: str, via: str, person: bool = False):
    """Record the download in the chain, then render from the committed record. ``person``: the
    actor is the LINE user a link was issued to, who must still be here with processing on (a
    link dies with 「刪除我的資料」 and 「停止處理」; an erased or unknown id is never written
    into the immutable events)."""
    database = _runtime().database
    with database.write_session() as session:
        if person:
            user = find_user(session, actor)
            if user is None or user.processing_stopped:
                return None
        letter = service.lock_letter(session, letter_id=letter_id)
        version = session.get(LetterVersion, version_id or (letter.current_version_id if letter else 0) or 0)
        if letter is None or version is None or version.letter_id != letter.id:
            return None
        service.record_download(session, letter=letter, version=version, actor=actor, via=via)
    with database.session() as session:
        letter = session.get(Letter, letter_id)
        version = session.get(LetterVersion, version.id)
        try:
            return _pdf_response(_render(session, letter, version), letter, version)
        except FontMissing as error:
            current_app.logger.error(str(error))
            return Response(str(error), status=503, mimetype="text/plain")


@bp.get("/letters/pdf/<token>")
def owner_pdf(token: str):
    payload = links.read_token(current_app.config, links.PDF, token, max_age=links.pdf_max_age(current_app.config))
    if payload is None:
        return _message(t("letters.page_expired"), 410)
    response = _download(int(payload["l"]), int(payload["v"]), actor=str(payload.get("u") or ""),
                         via="owner_link", person=True)
    return response if response is not None else _message(t("letters.page_expired"), 410)


# --- staff ---------------------------------------------------------------------------------------

def _program() -> str:
    return request.args.get("program") or "gonghao-2023"


def _csv_response(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": content_disposition("attachment", filename)})


@staff_bp.get("/companies.csv")
@staff_only
def companies_csv():
    with _runtime().database.session() as session:
        header, rows = service.companies_table(session, program_id=_program(), config=current_app.config)
        audit(session, actor=staff_actor(), action="export_companies", rows=len(rows))
    return _csv_response(spreadsheet_csv(header, rows), f"companies-{_program()}.csv")


@staff_bp.get("/letters")
@staff_only
def letters_json():
    with _runtime().database.session() as session:
        letters = service.letters_table(session, program_id=request.args.get("program"))
    return jsonify({"letters": letters, "count": len(letters)})


@staff_bp.get("/letters.csv")
@staff_only
def letters_csv():
    with _runtime().database.session() as session:
        header, rows = service.letters_csv_rows(service.letters_table(session, program_id=request.args.get("program")))
    return _csv_response(spreadsheet_csv(header, rows), "letters.csv")


@staff_bp.get("/letters/<id:letter_id>")
@staff_only
def letter_detail(letter_id: int):
    with _runtime().database.session() as session:
        letter = session.get(Letter, letter_id)
        if letter is None:
            return jsonify({"error": "not found"}), 404
        versions = [{"id": v.id, "version": v.version_no, "sha256": v.sha256, "supersedes_id": v.supersedes_id,
                     "signed_at": doc.taipei_iso(v.signed_at), "channel": v.channel, "signed_name": v.signed_name,
                     "signer_line_user_id": v.signer_line_user_id, "signer_display_name": v.signer_display_name,
                     "consent_sha256": v.consent_sha256, "ip": v.ip, "user_agent": v.user_agent,
                     "current": v.id == letter.current_version_id, "content": service.version_content(v)}
                    for v in service.versions_of(session, letter_id=letter.id)]
        events = [{"seq": e.seq, "kind": e.kind, "at": doc.taipei_iso(e.at), "actor": e.actor,
                   "version_id": e.version_id, "detail": e.detail, "hash": e.hash}
                  for e in service.events_of(session, letter_id=letter.id)]
        problems = service.verify_letter(session, letter=letter)
    return jsonify({"id": letter.id, "status": letter.status, "versions": versions, "events": events,
                    "verified": not problems, "problems": problems})


@staff_bp.get("/letters/<id:letter_id>/pdf")
@staff_only
def staff_pdf(letter_id: int):
    version = int_arg("version", None)
    version_id = None
    if version:
        with _runtime().database.session() as session:
            found = session.exec(select(LetterVersion).where(LetterVersion.letter_id == letter_id,
                                                             LetterVersion.version_no == version)).first()
            if found is None:
                return jsonify({"error": "not found"}), 404
            version_id = found.id
    response = _download(letter_id, version_id, actor=staff_actor(), via="staff")
    return response if response is not None else (jsonify({"error": "not found"}), 404)


@staff_bp.get("/summary")
@staff_only
def summary():
    program = _program()
    campaign = doc.campaign_settings(current_app.config, program)
    with _runtime().database.session() as session:
        return jsonify(service.summary(session, program_id=program, campaign=campaign))
