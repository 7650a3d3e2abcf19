"""The web process: ``python -m bot.serve`` (Procfile ``web:``, ``make run``).

Served by waitress, because it reads each request whole (headers and body, a large body spooled to
a temporary file) on its event loop before handing it to a request thread. A client that trickles
its request therefore holds a socket, never a thread: with gunicorn's gthread workers 16 such
clients occupied all 16 request threads and /healthz timed out (issue 18). Bodies over
``MAX_CONTENT_LENGTH`` are refused with 413 before they are read.

The configuration is checked before anything starts: production without LINE_CHANNEL_SECRET,
LINE_CHANNEL_ACCESS_TOKEN or SECRET_KEY, an unknown BOT_ENV, or development on an address other
than loopback exits with one line saying what is wrong. ``--processes N`` (``WEB_CONCURRENCY``,
half the cores by default) forks N processes serving one listening socket; each builds its own
app after the fork. SIGTERM lets requests in flight finish, then stops; a process still running
``STOP_DEADLINE`` (15 s) later is ended all the same.

    python -m bot.serve [--host H] [--port P] [--threads T] [--processes N] [--app module:callable]
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import resource
import signal
import socket
import sys
import time

from bot import config

log = logging.getLogger("bot.serve")

DEFAULT_APP = "bot.wsgi:create_web_app"
# Request threads mostly wait (an ack waits for its group commit, bot/events.EventInbox): the more
# acks queue meanwhile, the more one commit serves. 16 rather than 8 took the ack bench from ~0.35
# to ~0.5-0.7 of the bare app with the worker running (make bench, webhook).
DEFAULT_THREADS = 16
# Open connections one process keeps (each costs a socket and a buffer, not a thread). Past this
# waitress stops accepting until some close, so it is set well above any number of slow clients
# a single attacker costs little to hold open, within the file-descriptor limit.
CONNECTION_LIMIT = 4000


# How long a web process may take to stop once told to: waitress gives requests in flight 5 s, the
# event worker up to 10 s to go idle (its state is durable either way). Past this the kernel ends
# the process (SIGALRM's default action), whatever it is stuck in.
STOP_DEADLINE = 15
# The supervisor SIGKILLs a web process still running this long after it passed on the SIGTERM.
KILL_AFTER = STOP_DEADLINE + 5

_stop_requested = False


def _on_term(*_) -> None:
    """A web process's SIGTERM: waitress stops its loop on SystemExit (as does the app's loading).

    The SystemExit is raised wherever the main thread happens to be, and while the app is loading
    that may be code that swallows it (a bare ``except:``, a C call that clears the error): the
    process then served on and its supervisor waited for it forever (seen under load on CI). So
    the request is also remembered (``_serve_one`` checks it before serving) and an alarm ends the
    process if it has not stopped by ``STOP_DEADLINE``. A second TERM changes nothing: raising
    again would cut short the requests in flight that the first one lets finish."""
    global _stop_requested
    if _stop_requested:
        return
    _stop_requested = True
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(STOP_DEADLINE)
    sys.exit(0)


def _fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _load(target: str):
    module_name, _, attribute = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute or "app")
    return factory() if callable(factory) and not hasattr(factory, "wsgi_app") else factory


def _raise_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _channel_class():
    """waitress's HTTP channel, minus a busy loop of its event loop.

    A request thread sends its own response (waitress flushes from the thread that writes) while
    holding the channel's output lock. Meanwhile the channel has bytes in its buffer, so it counts
    as writable: the event loop polls it, poll() returns at once, the loop finds the lock taken and
    polls again, and every turn walks all channels holding the GIL that the sending thread needs to
    finish. Measured under wrk (16 connections): 12-18 loop turns per request, a quarter of the bot's
    CPU per ack. While a request runs and its thread holds the lock, the channel is not offered
    for writing; the thread either sends everything or wakes the loop (waitress's trigger) for what
    is left, and the loop looks again at least every ``asyncore_loop_timeout`` (1 s)."""
    from waitress.channel import HTTPChannel

    class Channel(HTTPChannel):
        def writable(self):
            if self.requests and not (self.will_close or self.close_when_flushed):
                if not self.outbuf_lock.acquire(False):
                    return False
                self.outbuf_lock.release()
            return super().writable()

    return Channel


def _serve_one(sock: socket.socket, target: str, *, threads: int, max_body: int) -> None:
    """One process: build the app, serve until SIGTERM, then let background work settle."""
    from waitress.server import create_server

    try:
        app = _load(target)
    except config.ConfigError as error:
        _fail(error.format_message(), 3)
    signal.signal(signal.SIGTERM, _on_term)  # waitress stops its loop on SystemExit
    limit = max(64, min(CONNECTION_LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64))
    try:
        server = create_server(app, sockets=[sock], threads=threads, connection_limit=limit,
                               max_request_body_size=max_body, asyncore_use_poll=True,  # select() stops at fd 1024
                               channel_timeout=60, ident="", expose_tracebacks=False,
                               # TRUSTED_PROXIES (werkzeug ProxyFix in the app) is the one place proxy
                               # headers are judged; the development guard must see them too.
                               clear_untrusted_proxy_headers=False)
        server.channel_class = _channel_class()
        if _stop_requested:  # a TERM came while loading and its SystemExit was swallowed there
            raise SystemExit(0)
        server.run()
    finally:
        runtime = getattr(app, "extensions", {}).get("bot")
        if runtime is not None:  # let in-flight events finish (their state is durable either way)
            runtime.worker.wait_idle(timeout=10)
            runtime.stop_background()


def _supervise(sock: socket.socket, target: str, processes: int, **options) -> int:
    """Fork ``processes`` children on the shared socket; replace one that dies; stop all on TERM."""
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        # TERM is held back across the fork: in the parent until the child is in ``children`` (so
        # stop() reaches it), in the child until its own handler replaces the supervisor's copy
        # (which swallowed it: the child served on and the supervisor waited for it forever).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not the supervisor's kill_stragglers
                signal.signal(signal.SIGTERM, _on_term)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                _serve_one(sock, target, **options)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                log.exception("web process failed")
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def stop(*_):
        nonlocal stopping
        if not stopping:  # a child that stops neither by itself nor by its alarm is killed
            signal.alarm(KILL_AFTER)
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill_stragglers(*_):
        for pid in list(children):
            log.warning("web process %s did not stop within %s s of SIGTERM; killing it", pid, KILL_AFTER)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGALRM, kill_stragglers)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(processes):
        if not stopping:
            spawn()
    status = 0
    while children:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(raw)
        if code == 3 or time.monotonic() - started < 1:
            # The app cannot start (configuration): restarting would only repeat the error.
            status = 3
            stop()
            continue
        log.warning("web process %s exited with %s; starting another", pid, code)
        spawn()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to bind (production: 0.0.0.0; development: 127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS") or DEFAULT_THREADS))
    parser.add_argument("--processes", type=int,
                        default=int(os.environ.get("WEB_CONCURRENCY") or config.half_the_cores()))
    parser.add_argument("--app", default=DEFAULT_APP, help="module:callable returning the WSGI app")
    args = parser.parse_args(argv)
    try:
        settings = config.settings_from_environment()
        mode = config.resolve_mode(settings)
        if mode == "production":
            config.check_production(settings)
    except config.ConfigError as error:
        _fail(error.format_message())
    host = args.host or ("0.0.0.0" if mode == "production" else "127.0.0.1")
    if mode == "development" and not config.is_loopback(host):
        _fail(f"development mode serves loopback only (127.0.0.1, ::1), not {host}; "
              f"set BOT_ENV=production with its settings to serve other machines")
    # Import the code (not the app) before forking, so each process boots in well under a second:
    # the LINE SDK alone takes seconds to import.
    importlib.import_module(args.app.partition(":")[0])
    _raise_file_limit(CONNECTION_LIMIT + 256)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, args.port), family=family, backlog=2048)
    except OSError as error:
        _fail(f"cannot listen on {host}:{args.port}: {error.strerror or error}")
    options = {"threads": max(1, args.threads), "max_body": settings["MAX_CONTENT_LENGTH"]}
    print(f"serving {args.app} on http://{host}:{args.port} ({mode} mode, {args.processes} process(es) x "
          f"{options['threads']} threads)", file=sys.stderr, flush=True)
    if args.processes <= 1:
        _serve_one(sock, args.app, **options)
        return 0
    return _supervise(sock, args.app, args.processes, **options)


if __name__ == "__main__":
    sys.exit(main())
