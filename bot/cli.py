"""Operator commands on ``flask --app bot``: init-db and events (domains add their own: roles in
staff.cli, campaign, letters…)."""
from __future__ import annotations

import json
import os
import signal
import threading
import traceback

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.db import upgrade_schema

json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a summary")


def emit(as_json: bool, payload: dict, summary: str) -> None:
    """Print a short human summary, or the payload as JSON with --json."""
    click.echo(json.dumps(payload, ensure_ascii=False, default=str) if as_json else summary)


def runtime():
    return current_app.extensions["bot"]


@click.command("init-db")
@json_option
def init_db_command(as_json: bool) -> None:
    """Create or migrate the schema (safe to repeat)."""
    heads = upgrade_schema(current_app.config["DATABASE_URL"])
    emit(as_json, {"status": "ok", "heads": heads}, f"Database ready ({len(heads)} migration heads at latest).")


events_cli = AppGroup("events", help="Webhook event processing.")


@events_cli.command("run")
@click.option("--processes", type=int, default=None,
              help="worker processes, each handling a share of the people (default EVENT_WORKER_PROCESSES)")
def events_run(processes: int | None) -> None:
    """The worker process (Procfile `worker:`): processes events the web processes stored, when
    they run with EVENT_PROCESSING=worker. Any number may run at once: each event takes effect
    once, and each person's events are handled by one process, in order."""
    config = current_app.config
    count = max(1, processes or config["EVENT_WORKER_PROCESSES"])
    click.echo(f"Processing events: {count} process(es) x {config['EVENT_WORKER_THREADS']} threads, "
               f"polling every {config['EVENT_POLL_SECONDS'] * 1000:.0f} ms.")
    if config["EVENT_WORKER_NICE"]:
        lower_cpu_priority(config["EVENT_WORKER_NICE"])  # once, before forking: children inherit it
    if count == 1:
        _serve_events(runtime(), config)
        return
    # One process per core: the GIL lets one process use one core. Forked before any thread or
    # connection exists in the child's copy; the children share nothing but the database.
    children: dict[int, int] = {}
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    # Installed before the first fork: a stop that arrives while children start reaches them all.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    parent = os.getpid()
    for index in range(count):
        if stopping:
            break
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until _serve_events installs its own
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                bot = runtime()
                bot.database.engine.dispose(close=False)
                bot.worker.shard = (index, count)
                _serve_events(bot, config, parent=parent)
            except BaseException:  # noqa: BLE001 - report and leave with a failure code
                traceback.print_exc()
                code = 1
            os._exit(code)
        children[pid] = index
    failed = False
    while children:
        pid, status = os.wait()
        children.pop(pid, None)
        if not stopping and status != 0:
            # A share of the people would go unserved: stop everything so the platform restarts us.
            failed = True
            forward(signal.SIGTERM, None)
    raise SystemExit(1 if failed else 0)


def lower_cpu_priority(amount: int) -> None:
    """nice(amount) for this process, and for its session's scheduling group when the session
    is the worker's alone. Linux autogroup scheduling (on by default) shares the CPU between
    *sessions* first and applies nice only inside one, so a worker started in its own session
    (a process manager, the benchmark) kept an equal share next to the web process whatever its
    nice value: acks ran at half speed while the worker drained a burst."""
    os.nice(amount)
    if _session_is_ours():
        try:
            with open("/proc/self/autogroup", "w") as autogroup:  # noqa: PTH123 - a procfs knob
                autogroup.write(str(amount))
        except OSError:
            pass  # no autogroup support (or not Linux): nice alone is all there is


def _session_is_ours() -> bool:
    """Whether every process in this session is this one, its parent (the shell or process
    manager that started it as session leader) or its descendants."""
    me, sid = os.getpid(), os.getsid(0)
    ours = {me, os.getppid()} if os.getsid(os.getppid()) == sid else {me}
    try:
        entries = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return False
    parents = {}
    for name in entries:
        try:
            with open(f"/proc/{name}/stat") as stat:  # noqa: PTH123
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == sid:  # field 6 of stat: session id
            parents[int(name)] = int(fields[1])
    for pid in parents:
        chain, current = set(), pid
        while current in parents and current not in ours and current not in chain:
            chain.add(current)
            current = parents[current]
        if current not in ours:
            return False
        ours |= chain
    return True


def _serve_events(bot, config, *, parent: int | None = None) -> None:
    if parent is not None:
        def orphaned() -> None:
            # A child of `--processes N` whose parent was killed outright (SIGKILL) stops too,
            # instead of serving its share of people forever next to a restarted worker.
            while not bot.worker.wait_stopped(1.0):
                if os.getppid() != parent:
                    bot.worker.request_stop()

        threading.Thread(target=orphaned, name="parent-watch", daemon=True).start()
    bot.services.warm_up()

    def stop(_signum, _frame):
        bot.worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bot.run_event_worker(poll_interval=config["EVENT_POLL_SECONDS"])


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(events_cli)
    from bot.richmenu import richmenu_cli

    app.cli.add_command(richmenu_cli)
