"""Settings, read from the environment only inside ``create_app`` (never at import time)."""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import click

REPO_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    value = (value or "").strip().lower() or default
    if value not in allowed:
        raise RuntimeError(f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


def settings_from_environment(environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables (see CONTRACT.md)."""
    env = dict(os.environ if environ is None else environ)
    port = env.get("PORT", "8000")
    return {
        # Raw: resolve_mode() decides, after a test config may have overridden these.
        "BOT_ENV": env.get("BOT_ENV"),
        # A LINE variable that is present but empty still counts as set (fail closed: production).
        **{name: env.get(name) for name in LINE_VARIABLES},
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{REPO_ROOT / 'instance' / 'bot.db'}",
        "PROGRAMS_FILE": env.get("PROGRAMS_FILE") or str(REPO_ROOT / "programs" / "programs.yaml"),
        "KNOWLEDGE_DIR": env.get("KNOWLEDGE_DIR") or str(REPO_ROOT / "knowledge" / "entries"),
        "SEEDS_DIR": env.get("SEEDS_DIR") or str(REPO_ROOT / "programs" / "documents"),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        "STAFF_API_TOKEN": env.get("STAFF_API_TOKEN") or None,
        # Signs session cookies, export/sign/login links and pseudonyms. Required in production;
        # development uses a random key kept in instance/ (development_secret_key).
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        # How many proxies in front of the app append to X-Forwarded-For (werkzeug ProxyFix).
        # 0: the client address is the TCP peer, and any X-Forwarded-For is ignored.
        "TRUSTED_PROXIES": _count(env.get("TRUSTED_PROXIES"), "TRUSTED_PROXIES"),
        # Largest request body accepted (bytes), checked on Content-Length before anything is
        # read (413). LINE's webhook bodies are small: a text message is at most 5,000
        # characters, and one delivery carries a handful of events, so even a large batch is
        # well under 1 MB; 4 MiB also leaves room for the development simulator's photo uploads
        # and the sign page's drawn signature (<= 400 KB).
        "MAX_CONTENT_LENGTH": _count(env.get("MAX_CONTENT_LENGTH"), "MAX_CONTENT_LENGTH") or 4 * 1024 * 1024,
        "SCHEDULER_ENABLED": _bool(env.get("SCHEDULER_ENABLED"), False),
        "SCHEDULER_INTERVAL_SECONDS": int(env.get("SCHEDULER_INTERVAL_SECONDS") or 60),
        "SCHEDULER_SEND_THREADS": int(env.get("SCHEDULER_SEND_THREADS") or 8),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Event threads per process. Two: one can send replies (waiting on LINE's API) while the
        # other holds the write transaction; more only queued on the same lock and GIL (the
        # 200 events/s bench: p95 1.1 s with 2 threads vs 2.3 s with 6, before other changes).
        "EVENT_WORKER_THREADS": int(env.get("EVENT_WORKER_THREADS") or 2),
        # "inline": web processes handle events on their own threads (make run, tests, one-box
        # installs). "worker": they only store and ack; `flask --app bot events run` (the
        # Procfile's worker line) processes them, so acks never wait on the GIL behind processing.
        "EVENT_PROCESSING": _choice(env.get("EVENT_PROCESSING"), ("inline", "worker"), "inline"),
        "EVENT_POLL_SECONDS": float(env.get("EVENT_POLL_SECONDS") or 0.01),
        # Fresh events of this many different people at most share one write transaction.
        "EVENT_BATCH_SIZE": int(env.get("EVENT_BATCH_SIZE") or 16),
        # The worker process can lower its CPU priority by this much (Unix nice), so acks sharing
        # its cores go first. Off by default: since acks no longer wait for the worker's write lock
        # (bot.spool) they stay far inside LINE's 2 s anyway, and a starved worker fell behind
        # for good whenever the machine was briefly short of CPU (make bench, e2e p95).
        "EVENT_WORKER_NICE": int(env.get("EVENT_WORKER_NICE", "").strip() or 0),
        # Processes of `events run`: one Python process uses at most one core (the GIL). One per
        # core by default (usable_cores).
        "EVENT_WORKER_PROCESSES": int(env.get("EVENT_WORKER_PROCESSES") or usable_cores()),
        "PORT": int(port),
    }


LINE_VARIABLES = ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE_URL", "LINE_DATA_API_BASE_URL")
MODES = ("development", "production")


class ConfigError(click.ClickException, RuntimeError):
    """A configuration the app refuses to start with. Its message is one line saying what is
    missing; ``flask`` prints it as ``Error: …`` (a ClickException) and the web server's launcher
    (bot.serve) prints it alone, so an operator never reads a traceback to find the cause."""


def _count(value: str | None, name: str) -> int:
    if value is None or not value.strip():
        return 0
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
    return number


def resolve_mode(config: dict) -> str:
    """``development`` only when BOT_ENV says exactly that, or when BOT_ENV is unset and no LINE
    variable is set at all (``make run``); anything else is production (fail closed: a half-set or
    misspelt deployment must never get the development channel secret and the /dev routes)."""
    bot_env = config.get("BOT_ENV")
    if bot_env is None:
        given = [name for name in LINE_VARIABLES if config.get(name) is not None]
        return "production" if given else "development"
    if bot_env not in MODES:
        raise ConfigError(f"BOT_ENV={bot_env!r} is not a known mode: set BOT_ENV=production (or development "
                          f"for a local run)")
    return bot_env


def check_production(config: dict) -> None:
    """Refuse to run production without what it needs: one line naming every missing variable."""
    missing = [name for name in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "SECRET_KEY")
               if not config.get(name)]
    if missing:
        given = [name for name in LINE_VARIABLES if config.get(name) is not None]
        why = "BOT_ENV=production" if config.get("BOT_ENV") == "production" else \
            f"production mode (BOT_ENV is unset and {', '.join(given)} is set)"
        raise ConfigError(f"{why} needs {', '.join(missing)}; refusing to start")


def development_secret_key(instance_dir: Path) -> str:
    """Development's SECRET_KEY: random, made once per install and kept in instance/secret_key
    (next to the development database), so links and sessions survive restarts and every
    process of one install agrees, while no two installs share a key and none is written in
    the code (a published key would let anyone forge links for a development database)."""
    path = Path(instance_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        # O_EXCL: two processes starting at once agree on the first one's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) or the name localhost."""
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def usable_cores() -> int:
    """The CPUs this process may run on (at least 1): the default number of event worker
    processes. Each Python process uses one core at most (the GIL), and a worker process drains
    events at about that ceiling, while acks need far less (~2 ms of CPU each). On the 2-core
    bench machine (make bench, e2e at 200 events/s, acks in the spool) two worker processes next
    to one web process kept p95 at 35–86 ms in 5 of 5 runs, one worker process 52–242 ms."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # a container's CPU set, not the host's count
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def half_the_cores() -> int:
    """Half the usable CPUs (at least 1): the default number of web processes. Acks are short
    and group-committed; 16 threads in one process serve them on 2 cores (bot.serve)."""
    return max(1, usable_cores() // 2)


# Values used when nothing else is configured (development mode and tests).
DEVELOPMENT_CHANNEL_SECRET = "dev-channel-secret-not-for-production"
DEVELOPMENT_ACCESS_TOKEN = "dev-access-token"

DEFAULTS = {
    # A claimed event whose worker died is retried after this lease (seconds).
    "EVENT_LEASE_SECONDS": 60,
    "OUTBOX_MAX_ATTEMPTS": 8,
    "TIMEZONE": "Asia/Taipei",
    "LINE_HTTP_TIMEOUT": 10,
    "RETRY_BASE_DELAY": 0.5,
    "TESTING": False,
}
