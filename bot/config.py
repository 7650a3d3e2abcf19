"""Settings, read from the environment only inside ``create_app`` (never at import time)."""
from __future__ import annotations

import os
from pathlib import Path

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
    secret = env.get("LINE_CHANNEL_SECRET") or None
    token = env.get("LINE_CHANNEL_ACCESS_TOKEN") or None
    has_credentials = bool(secret and token)
    bot_env = env.get("BOT_ENV") or ("production" if has_credentials else "development")
    return {
        "BOT_ENV": bot_env,
        "LINE_CHANNEL_SECRET": secret,
        "LINE_CHANNEL_ACCESS_TOKEN": token,
        "LINE_API_BASE_URL": env.get("LINE_API_BASE_URL") or None,
        "LINE_DATA_API_BASE_URL": env.get("LINE_DATA_API_BASE_URL") or None,
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{REPO_ROOT / 'instance' / 'bot.db'}",
        "PROGRAMS_FILE": env.get("PROGRAMS_FILE") or str(REPO_ROOT / "programs" / "programs.yaml"),
        "KNOWLEDGE_DIR": env.get("KNOWLEDGE_DIR") or str(REPO_ROOT / "knowledge" / "entries"),
        "SEEDS_DIR": env.get("SEEDS_DIR") or str(REPO_ROOT / "programs" / "documents"),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        "STAFF_API_TOKEN": env.get("STAFF_API_TOKEN") or None,
        # Signs session cookies, export/sign/login links and pseudonyms; falls back to the channel secret.
        "SECRET_KEY": env.get("SECRET_KEY") or None,
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
    and group-committed; 16 threads in one process serve them on 2 cores (gunicorn.conf.py)."""
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
