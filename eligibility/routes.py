"""`POST /api/eligibility` (see /work/shared/CONTRACT.md)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from flask import Blueprint, current_app, jsonify, request

from .engine import ProgramRules, evaluate, load_programs
from .funding import apply_register
from .schemas import check_request, field_error

bp = Blueprint("eligibility", __name__)

DEFAULT_PROGRAMS_FILE = Path(__file__).resolve().parent.parent / "programs" / "programs.yaml"


def programs_file() -> str:
    return str(current_app.config.get("PROGRAMS_FILE")
               or os.environ.get("PROGRAMS_FILE") or DEFAULT_PROGRAMS_FILE)


def current_programs() -> Mapping[str, ProgramRules]:
    """Programmes from the app (lead's factory) or, failing that, loaded once from
    PROGRAMS_FILE and cached per app (keyed by path so a changed config reloads)."""
    shared = current_app.extensions.get("programs")
    if shared is not None:
        return shared
    services = _services()
    if services is not None and services.get("programs") is not None:
        return services.get("programs")
    path = programs_file()
    cache = current_app.extensions.setdefault("eligibility_programs_cache", {})
    if path not in cache:
        cache[path] = load_programs(path)
    return cache[path]


@bp.post("/api/eligibility")
def check_eligibility():
    body = request.get_json(silent=True, force=True)  # lenient about Content-Type
    if body is None:
        return jsonify({"errors": [field_error(
            "body", "內容不是 JSON。",
            "body must be JSON")]}), 422
    checked = check_request(body=body, programs=current_programs())
    if not checked.ok:
        return jsonify({"errors": checked.errors}), 422
    verdict = evaluate(program=checked.program, answers=checked.answers)
    tax_id = checked.answers.get("tax_id")
    lookup = funding_lookup()
    if tax_id and lookup is not None:
        # No double funding beyond asking: the imported register, by 統編 (002 叁 限制條件).
        verdict = apply_register(program=checked.program, verdict=verdict, records=lookup(tax_id))
    return jsonify(verdict.to_dict()), 200


def funding_lookup():
    """The 統編 -> funded-register lookup (eligibility.funding), if the app offers one."""
    services = _services()
    return services.get("funding_lookup") if services is not None else None


def _services():
    """bot.create_app's shared services; None for a bare app with only this blueprint."""
    return getattr(current_app.extensions.get("bot"), "services", None)
