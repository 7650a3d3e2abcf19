from flask import Blueprint

bp = Blueprint("kpis", __name__, template_folder="templates")
