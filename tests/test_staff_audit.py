"""Staff reading personal data is by role (token or staff session) and audited."""
import requests
from sqlmodel import select

from bot.models import AuditEntry
from tests.conftest import STAFF_TOKEN


def test_staff_exports_are_audited_and_refused_without_token(app, live_server):
    for path in ("/staff/companies.csv", "/staff/visits.csv", "/staff/summary", "/staff/outbox"):
        assert requests.get(live_server.url + path, timeout=10).status_code == 403
        response = requests.get(live_server.url + path, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=10)
        assert response.status_code == 200, path
    with app.extensions["bot"].database.session() as session:
        reads = session.exec(select(AuditEntry).where(AuditEntry.action == "staff_data_read")).all()
    assert {entry.target for entry in reads} >= {"/staff/companies.csv", "/staff/visits.csv", "/staff/summary"}
    assert all(entry.actor == "staff-token" for entry in reads)
