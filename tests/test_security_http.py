"""HTTP hardening (issue 18): proxy trust is configuration, staff sessions are cookies a script
cannot read or another site send and that die at logout, pages cannot be framed and run only
their own scripts, a user value cannot break a Content-Disposition header, and the development
simulator API takes JSON from its own page only."""
from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest
import requests
from sqlmodel import select

from bot import create_app
from bot.models import RoleGrant
from letters.models import LetterVersion
from staff import service as staff_service
from tests.conftest import STAFF_TOKEN, base_config
from tests.test_letters_chat import _png, agree_to_letter, owner_with_company, start_and_fill

STAFF = "U" + "5" * 32


@pytest.fixture
def production_app(database_url, fake_line):
    made = []

    def make(**extra):
        application = create_app(base_config(database_url, fake_line, BOT_ENV="production", **extra))
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["bot"].database.dispose()


@pytest.mark.parametrize("proxies, recorded", [(0, "10.0.0.2"), (1, "198.51.100.7")])
def test_signer_ip_is_the_peer_unless_a_trusted_proxy_says_otherwise(app, chat, production_app, proxies, recorded):
    owner_with_company(app, chat)
    start_and_fill(chat)
    agree_to_letter(chat)
    sign_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    server = production_app(TRUSTED_PROXIES=proxies)
    png = "data:image/png;base64," + base64.b64encode(_png()).decode()
    # The peer is 10.0.0.2 (with one trusted hop: the proxy, which appended the real client).
    done = server.test_client().post(urlsplit(sign_link).path, data={"signed_name": "王大明", "signature": png},
                                     headers={"X-Forwarded-For": "198.51.100.7"},
                                     environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert done.status_code == 200
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(LetterVersion.ip)).one() == recorded


def _login(app, client, **environ) -> None:
    with app.extensions["bot"].database.write_session() as session:
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    assert client.post(f"/staff/login/{token}", **environ).status_code == 302


def test_staff_session_cookie_flags_and_logout_kills_a_copied_cookie(app, live_server):
    browser = requests.Session()
    _login(app, browser_client := app.test_client())
    cookie = browser_client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    browser.cookies.set("session", cookie.value)
    assert browser.get(f"{live_server.url}/staff", headers={"Accept": "text/html"}).status_code == 200
    stolen = cookie.value
    browser_client.post("/staff/logout")
    replay = requests.get(f"{live_server.url}/staff", cookies={"session": stolen}, headers={"Accept": "text/html"})
    assert replay.status_code == 403


def test_session_cookie_is_secure_under_https(app, production_app):
    server = production_app(PUBLIC_BASE_URL="https://bot.example.org")
    client = server.test_client()
    _login(app, client, base_url="https://bot.example.org")
    cookie = client.get_cookie("session", domain="bot.example.org")
    assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_pages_cannot_be_framed_and_run_only_their_own_scripts(app, chat):
    client = app.test_client()
    owner_with_company(app, chat)
    start_and_fill(chat)
    agree_to_letter(chat)
    sign_path = urlsplit(next(a["uri"] for a in chat.actions() if a.get("type") == "uri")).path
    pages = [client.get("/staff/login", headers={"Accept": "text/html"}), client.get(sign_path),
             client.get("/letters/pdf/forged"), client.get("/privacy")]
    for page in pages:
        assert page.mimetype == "text/html"
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    sign = pages[1]
    nonce = sign.headers["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<script nonce="{nonce}">' in sign.get_data(as_text=True)  # the drawing pad still runs


@pytest.mark.parametrize("program", ["x\r\nSet-Cookie: stolen=1", 'a"b;c', "數位共好", "../../etc/passwd"])
def test_a_user_value_in_a_download_filename_is_sanitised(app, program):
    client = app.test_client()
    response = client.get("/staff/companies.csv", query_string={"program": program},
                          headers={"Authorization": f"Bearer {STAFF_TOKEN}"})
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "Set-Cookie" not in response.headers
    filename = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert all(32 <= ord(c) < 127 and c not in '"\\;' for c in filename)
    if not program.isascii():
        assert "filename*=UTF-8''" in disposition and "%E6%95%B8" in disposition


@pytest.fixture
def simulator(tmp_path):
    from bot.db import upgrade_schema
    from tests.conftest import REPO

    upgrade_schema(f"sqlite:///{tmp_path / 'dev.db'}")
    application = create_app({"IGNORE_ENVIRONMENT": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
                              "LOG_LEVEL": "WARNING", "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml")})
    yield application.test_client()
    application.extensions["bot"].database.dispose()


@pytest.mark.parametrize("headers, data, status", [
    ({"Content-Type": "text/plain"}, '{"user": "Ux", "role": "staff"}', 415),  # no preflight needed
    ({"Content-Type": "application/x-www-form-urlencoded"}, "user=Ux&role=staff", 415),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, '{"user": "Ux", "role": "staff"}', 403),
    ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, '{"user": "Ux", "role": "staff"}', 403),
])
def test_the_simulator_api_takes_json_from_its_own_page_only(simulator, headers, data, status):
    assert simulator.post("/dev/simulator/api/role", data=data, headers=headers).status_code == status
    own = simulator.post("/dev/simulator/api/role", json={"user": "Ux", "role": "staff"},
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200
