"""A deployment fails closed (issue 18): development mode only when it is asked for (or nothing of
LINE is configured at all), production refuses to start without what it needs, with one line, and
development mode answers only loopback clients."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import config, create_app
from tests.conftest import CHANNEL_SECRET, REPO, SECRET_KEY, base_config, free_port

FULL = {"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t", "SECRET_KEY": "k"}


def _mode(env: dict) -> str:
    settings = config.settings_from_environment(env)
    mode = config.resolve_mode(settings)
    if mode == "production":
        config.check_production(settings)
    return mode


@pytest.mark.parametrize("env, missing", [
    ({"LINE_CHANNEL_SECRET": "s"}, "LINE_CHANNEL_ACCESS_TOKEN, SECRET_KEY"),  # half set, BOT_ENV unset
    ({"LINE_CHANNEL_ACCESS_TOKEN": "t"}, "LINE_CHANNEL_SECRET, SECRET_KEY"),
    ({"LINE_CHANNEL_SECRET": ""}, "LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, SECRET_KEY"),  # empty counts
    ({"LINE_API_BASE_URL": "https://api.line.me"}, "LINE_CHANNEL_SECRET"),
    ({"BOT_ENV": "production"}, "LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN, SECRET_KEY"),
    ({"BOT_ENV": "production", "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}, "SECRET_KEY"),
    ({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"}, "SECRET_KEY"),  # no derived key
])
def test_production_without_what_it_needs_refuses(env, missing):
    with pytest.raises(config.ConfigError) as error:
        _mode(env)
    assert missing in error.value.format_message()


@pytest.mark.parametrize("value", ["prod", "Production", "PRODUCTION", "dev", "development ", ""])
def test_an_unknown_bot_env_refuses_even_with_everything_set(value):
    with pytest.raises(config.ConfigError) as error:
        _mode({"BOT_ENV": value, **FULL})
    assert "BOT_ENV" in error.value.format_message()


def test_only_exact_development_or_nothing_of_line_is_development():
    assert _mode({}) == "development"  # make run
    assert _mode({"BOT_ENV": "development"}) == "development"
    assert _mode(FULL) == "production"
    assert _mode({"BOT_ENV": "production", **FULL}) == "production"


def test_procfile_lines_all_say_production():
    lines = [line for line in (REPO / "Procfile").read_text().splitlines() if line.strip()]
    assert lines and all(line.split(":", 1)[1].strip().startswith("BOT_ENV=production ") for line in lines)


def _environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "BOT_ENV", "SECRET_KEY"))}
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


@pytest.mark.parametrize("command", [["flask", "--app", "bot", "init-db"], ["python", "-m", "bot.serve"]])
def test_the_cli_and_the_web_server_refuse_with_one_line(tmp_path, command):
    env = _environment(BOT_ENV="Production", LINE_CHANNEL_SECRET="s", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
                       PORT=str(free_port()))
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "BOT_ENV='Production'" in lines[0], result.stderr


def test_the_procfile_web_command_without_secret_key_refuses(tmp_path):
    web = next(line.split(":", 1)[1] for line in (REPO / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    env = _environment(LINE_CHANNEL_SECRET="s", LINE_CHANNEL_ACCESS_TOKEN="t", PORT=str(free_port()),
                       DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run(["sh", "-c", web], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_development_refuses_to_bind_beyond_loopback(tmp_path):
    env = _environment(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run([sys.executable, "-m", "bot.serve", "--host", "0.0.0.0", "--port", str(free_port())],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "loopback" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def dev_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("dev")
    app = create_app({"IGNORE_ENVIRONMENT": True, "DATABASE_URL": f"sqlite:///{path / 'dev.db'}",
                      "LOG_LEVEL": "WARNING", "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml")})
    assert app.config["DEV_MODE"] and app.config["BOT_ENV"] == "development"
    yield app
    app.extensions["bot"].database.dispose()


@pytest.mark.parametrize("remote, host, headers", [
    ("10.1.2.3", "127.0.0.1:8000", {}),  # another machine (a dev server bound to 0.0.0.0 anyway)
    ("127.0.0.1", "evil.example:8000", {}),  # DNS rebinding: a page on another site resolving to us
    ("127.0.0.1", "127.0.0.1:8000", {"X-Forwarded-For": "203.0.113.5"}),  # a tunnel or proxy in front
])
def test_development_mode_answers_loopback_clients_only(dev_app, remote, host, headers):
    client = dev_app.test_client()
    base = {"REMOTE_ADDR": remote}
    headers = {"Host": host, **headers}
    assert client.get("/dev/simulator", environ_base=base, headers=headers).status_code == 403
    forged = client.post("/dev/simulator/api/role", json={"user": "Uattacker", "role": "staff"},
                         environ_base=base, headers=headers)
    assert forged.status_code == 403
    assert client.get("/healthz", environ_base=base, headers=headers).status_code == 403
    # ...while the developer's own browser on this machine gets in.
    assert client.get("/dev/simulator", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                      headers={"Host": "localhost:8000"}).status_code == 200


def test_development_secret_key_is_random_per_install_and_kept(tmp_path):
    first = config.development_secret_key(tmp_path / "one")
    assert first == config.development_secret_key(tmp_path / "one")  # kept across restarts
    assert first != config.development_secret_key(tmp_path / "two")  # not shared between installs
    assert len(first) >= 64 and CHANNEL_SECRET not in first
    assert oct((tmp_path / "one" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_links_are_not_keyed_by_the_channel_secret(database_url, fake_line):
    """Whoever holds the channel secret (and guesses the database URL) cannot mint a PDF link."""
    from itsdangerous import URLSafeTimedSerializer
    import hashlib

    from letters import links

    app = create_app(base_config(database_url, fake_line, BOT_ENV="production"))
    try:
        assert app.config["SECRET_KEY"] == SECRET_KEY
        for guess in (CHANNEL_SECRET, app.config["LINE_CHANNEL_SECRET"]):
            key = hashlib.sha256(f"letters-links:{guess}".encode()).hexdigest()
            forged = URLSafeTimedSerializer(key, salt=links.PDF).dumps({"l": 1, "v": 1, "u": "U1"})
            assert links.read_token(app.config, links.PDF, forged, max_age=60) is None
    finally:
        app.extensions["bot"].database.dispose()


def test_the_app_says_why_it_is_production(database_url):
    """The refusal names the cause as the operator set it: BOT_ENV unset with a LINE variable
    given is not reported as "BOT_ENV=production"."""
    with pytest.raises(config.ConfigError) as error:
        create_app({"IGNORE_ENVIRONMENT": True, "DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": "s"})
    message = error.value.format_message()
    assert "BOT_ENV is unset and LINE_CHANNEL_SECRET is set" in message and "SECRET_KEY" in message, message
