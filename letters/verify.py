"""The public verification page (/letters/verify): anyone holding a letter PDF checks it against
the record by uploading it or pasting the SHA-256 printed on its certificate page. The answer says
only whether such a signed version is on record, its state and signing date, never who signed.
(The owner's certificate page names this page instead of an operator command.)"""
from __future__ import annotations

import io
import re

from flask import Blueprint, current_app, render_template, request

from bot.texts import t
from bot.timeutil import format_roc_date
from letters import service

bp = Blueprint("letters_verify", __name__, template_folder="templates")

HASH = re.compile(r"\b[0-9a-fA-F]{64}\b")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a letter PDF with a stamped-page photo stays far below


def hashes_in_pdf(data: bytes) -> list[str]:
    """The SHA-256 values a letter PDF carries: its metadata subject first, then its text."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        found = HASH.findall(str((reader.metadata or {}).get("/Subject") or ""))
        for page in reversed(reader.pages):  # the certificate is the last page
            # fpdf2's CJK font makes pypdf read each character with a NUL in front
            found += HASH.findall((page.extract_text() or "").replace("\x00", ""))
    except (PdfReadError, ValueError, TypeError, KeyError, OSError):
        return []
    return list(dict.fromkeys(value.lower() for value in found))


def _result(hashes: list[str]) -> dict:
    with current_app.extensions["bot"].database.session() as session:
        for value in hashes:
            found = service.verify_version_hash(session, sha256=value)
            if found is not None:
                kind = found["status"] if found["intact"] else "damaged"
                return {"kind": kind, "text": t(f"letters.verify_{kind}", version=found["version_no"],
                                                date=format_roc_date(found["signed_at"]))}
    return {"kind": "unknown", "text": t("letters.verify_unknown")}


@bp.route("/letters/verify", methods=("GET", "POST"))
def verify():
    if request.method == "GET":
        return render_template("letters/verify.html")
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        return render_template("letters/verify.html", result={"kind": "error", "text": t("letters.verify_too_big")}), 413
    upload = request.files.get("pdf")
    typed = (request.form.get("sha256") or "").strip()
    if upload is not None and upload.filename:
        hashes = hashes_in_pdf(upload.read(MAX_UPLOAD_BYTES + 1))
        if not hashes:
            return render_template("letters/verify.html", result={"kind": "error", "text": t("letters.verify_not_letter")}), 422
    elif HASH.fullmatch(typed):
        hashes = [typed.lower()]
    else:
        return render_template("letters/verify.html", result={"kind": "error", "text": t("letters.verify_how")}), 422
    return render_template("letters/verify.html", result=_result(hashes))
