from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    if current_app.extensions["bot"].database.ping():
        return jsonify({"status": "ok"}), 200
    return jsonify({"status": "unavailable"}), 503
