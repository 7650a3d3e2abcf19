"""Production and development modes, the operator CLI, and schema migrations."""
import json
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from bot import create_app
from bot.db import Database, import_all_models
from tests.conftest import REPO, base_config


def test_production_refuses_to_start_without_credentials(tmp_path):
    with pytest.raises(RuntimeError):
        create_app({"IGNORE_ENVIRONMENT": True, "BOT_ENV": "production",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_production_process_exits_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINE_")}
    env.update(BOT_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "bot", "roles", "list"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "LINE_CHANNEL_SECRET" in result.stderr


def test_development_mode_without_credentials_mounts_emulator_and_simulator(tmp_path):
    app = create_app({"IGNORE_ENVIRONMENT": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["DEV_MODE"] is True
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/dev/simulator" in rules and "/dev/line-api/v2/bot/message/reply" in rules


def test_production_mode_has_no_dev_routes(database_url, fake_line):
    app = create_app(base_config(database_url, fake_line, BOT_ENV="production"))
    client = app.test_client()
    assert not any(rule.rule.startswith("/dev") for rule in app.url_map.iter_rules())
    assert client.get("/dev/simulator").status_code == 404
    assert client.post("/dev/line-api/v2/bot/message/push").status_code == 404


def test_migrations_match_the_models(database_url):
    import_all_models()
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        database.dispose()
    # Ignore type-rendering noise; tables, columns and indexes must agree.
    significant = [d for d in diff if not (isinstance(d, tuple) and d[0] in ("modify_type", "modify_nullable"))]
    assert significant == [], significant


def test_init_db_is_safe_to_repeat(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "BOT_ENV": "development"}
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "bot", "init-db", "--json"], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "ok"


def test_roles_cli(app):
    runner = app.test_cli_runner()
    assert "is staff" in runner.invoke(args=["roles", "grant", "U" + "1" * 32, "staff"]).output
    assert "already" in runner.invoke(args=["roles", "grant", "U" + "1" * 32, "staff"]).output
    listed = json.loads(runner.invoke(args=["roles", "list", "--json"]).output)
    assert listed["roles"][0]["role"] == "staff"
    assert "no longer" in runner.invoke(args=["roles", "revoke", "U" + "1" * 32, "staff"]).output
    bad = runner.invoke(args=["roles", "grant", "U1", "king"])
    assert bad.exit_code != 0


def test_staff_command_refused_politely_without_role(chat, app):
    from sqlmodel import select

    from bot.models import AuditEntry
    from dialogs.registry import COMMANDS

    staff_commands = [c for c in COMMANDS if c.role == "staff" and not c.prefix]
    if not staff_commands:
        pytest.skip("no staff chat command registered yet")
    phrase = staff_commands[0].phrases[0]
    texts = chat.say(phrase)
    assert any("無法使用" in text for text in texts)
    with app.extensions["bot"].database.session() as session:
        denied = session.exec(select(AuditEntry).where(AuditEntry.action == "permission_denied")).all()
    assert denied and denied[0].actor == chat.user_id


def test_follow_unfollow_and_welcome_back(chat, app):
    from sqlmodel import select

    from bot.models import User

    assert any("歡迎加入" in t for t in chat.follow())
    chat.unfollow()
    with app.extensions["bot"].database.session() as session:
        user = session.exec(select(User).where(User.line_user_id == chat.user_id)).one()
        assert user.is_following is False
        assert user.display_name is None  # no personal data before consent
    assert any("歡迎回來" in t for t in chat.follow(unblocked=True))


def test_a_follow_whose_follow_field_is_not_an_object_still_greets_once(chat, app, fake_line):
    from sqlmodel import select

    from bot.models import InboundEvent

    # A signed body the SDK accepts, with "follow": 1 (found by the webhook fuzzer): it used to
    # crash processing on every retry until the event was parked as failed, unanswered.
    fake_line.followers.add(chat.user_id)
    event = chat.event("follow")
    event["follow"] = 1
    for delivery in (event, dict(event, deliveryContext={"isRedelivery": True})):  # and LINE again
        assert chat.post([delivery]).status_code == 200
        assert chat.runtime.worker.wait_idle(10)
    chat.settle_outbox()
    assert sum("歡迎加入" in t for t in fake_line.texts_for(chat.user_id)) == 1
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(InboundEvent.status).where(
            InboundEvent.webhook_event_id == event["webhookEventId"])).all() == ["done"]


def test_stale_button_without_a_conversation(chat):
    texts = chat.send("postback", data="f=demo&s=cafebabe&st=channel&v=line")
    assert any("過期" in t for t in texts)
    assert "我符合資格嗎？" in chat.labels()


def test_sticker_and_image_when_idle(chat):
    assert any("貼圖" in t for t in chat.send("sticker"))
    assert any("圖片" in t for t in chat.send("image"))


def test_rich_menu_setup_through_the_sdk(app, fake_line):
    result = app.test_cli_runner().invoke(args=["richmenu", "setup"])
    assert result.exit_code == 0, result.output
    assert fake_line.default_rich_menu in fake_line.rich_menus
    menu = fake_line.rich_menus[fake_line.default_rich_menu]
    assert [area["action"]["text"] for area in menu["areas"]][0] == "我符合資格嗎？"
    assert menu["_image_bytes"] > 1000
