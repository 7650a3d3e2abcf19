"""Webhook benchmarks (issue 2 §10), measured against baselines in the same run.

(a) ack throughput and p50/p99 latency at fixed concurrency (wrk) under the Procfile's web
    command, versus a bare Flask app that only verifies signatures with the SDK;
(b) end-to-end latency from webhook POST to the reply arriving at a local fake Messaging API at a
    fixed 200 events/s, versus an echo app that replies synchronously with no database.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot.devmode import new_event_id, sign

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"
WRK_SCRIPT = """
local lines = {}
local counter = 0
local thread_id = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  thread_id = tonumber(wrk.thread:get("tid")) or 1
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if n % tonumber(args[2]) == thread_id - 1 then table.insert(lines, line) end
  end
end
function request()
  counter = counter + 1
  local line = lines[(counter - 1) % #lines + 1]
  local tab = line:find("\\t")
  local headers = {["Content-Type"] = "application/json", ["X-Line-Signature"] = line:sub(1, tab - 1)}
  return wrk.format("POST", "/callback", headers, line:sub(tab + 1))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def text_event(user: str, reply_token: str, text: str = "你好") -> dict:
    return {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
            "webhookEventId": new_event_id(), "deliveryContext": {"isRedelivery": False},
            "replyToken": reply_token, "source": {"type": "user", "userId": user},
            "message": {"type": "text", "id": str(time.time_ns()), "text": text, "quoteToken": "q"}}


def body_of(event: dict) -> bytes:
    return json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()


class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict) -> subprocess.Popen:
        log = open(os.environ.get("BENCH_LOG", os.devnull), "ab")
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=log,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_group(proc)
        self.procs.clear()


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process's whole group and wait until every member is gone (a shell's exit
    says nothing about the processes it started), then SIGKILL what is left: a lingering worker
    from one run would take CPU from the next."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader, or the group never empties
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def environment(tmp: Path, fake_url: str, port: int) -> dict:
    return {**os.environ, "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_BASE_URL": fake_url, "LINE_DATA_API_BASE_URL": fake_url, "BOT_ENV": "production",
            "SECRET_KEY": "bench-secret-key",
            "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}",
            "PORT": str(port), "LOG_LEVEL": "WARNING", "SCHEDULER_ENABLED": "false", "PYTHONPATH": str(REPO),
            # The Procfile's commands (python -m bot.serve, flask) from this interpreter's environment.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines) if command}


def bot_commands() -> list[list[str]]:
    """The Procfile's web and worker lines, run as the platform runs them (through a shell)."""
    commands = procfile()
    return [["sh", "-c", commands[name]] for name in ("web", "worker") if name in commands]


def baseline_command(target: str) -> list[str]:
    # The Procfile's web command with the baseline app instead of the bot: the same server and
    # settings (bot.serve: waitress, processes, threads) for both, so the ratio stays fair.
    web = procfile()["web"]
    assert "python -m bot.serve" in web, web
    return [sys.executable, "-m", "bot.serve", "--app", target]


def run_wrk(url: str, lines_file: Path, *, threads: int, connections: int, seconds: int) -> dict:
    script = lines_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    result = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                             url, "--", str(lines_file), str(threads)], capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": latency("50"), "p99_ms": latency("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def write_bodies(path: Path, count: int, users: int = 2000) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            user = f"U{index % users:032x}"
            body = body_of(text_event(user, reply_token=f"tok{index:028d}"))
            handle.write(sign(SECRET, body) + "\t" + body.decode() + "\n")


def _compare(apps: tuple[tuple[str, str], ...], measure, *, prepare=None) -> dict:
    """Start the fake Messaging API, then serve each app in turn (the bot: the Procfile's web and
    worker lines; a baseline: the web line's server settings) and call ``measure(base_url, fake_url, name)``; returns {name: figures}."""
    procs = Processes()
    results = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        fake_port = free_port()
        fake_url = f"http://127.0.0.1:{fake_port}"
        procs.start([sys.executable, "-m", "bench.fake_server", str(fake_port), TOKEN], {**os.environ, "PYTHONPATH": str(REPO)})
        if prepare:
            prepare(tmp)
        try:
            wait_http(fake_url + "/_bench/arrivals")
            for name, target in apps:
                port = free_port()
                env = environment(tmp, fake_url, port)
                if target == "bot":
                    subprocess.run([sys.executable, "-m", "flask", "--app", "bot", "init-db"], cwd=REPO, env=env,
                                   check=True, capture_output=True)
                    started = [procs.start(command, env) for command in bot_commands()]
                else:
                    started = [procs.start(baseline_command(target), env)]
                base = f"http://127.0.0.1:{port}"
                wait_http(base + "/healthz")
                results[name] = measure(base, fake_url, name, tmp)
                for proc in started:
                    stop_group(proc)
        finally:
            procs.stop_all()
    return results


def ack_benchmark(*, seconds: int = 10, connections: int = 16) -> dict:
    if not shutil.which("wrk"):
        return {"skipped": "wrk not installed (make system-deps)"}

    def measure(base, fake_url, name, tmp):
        lines = tmp / "bodies.tsv"
        # Warm-up: first requests load the knowledge base and open connections.
        run_wrk(f"{base}/callback", lines, threads=2, connections=4, seconds=3)
        time.sleep(2)
        return run_wrk(f"{base}/callback", lines, threads=2, connections=connections, seconds=seconds)

    results = _compare((("bare", "bench.baseline_app:create_bare_app"), ("bot", "bot")),
                       measure, prepare=lambda tmp: write_bodies(tmp / "bodies.tsv", 60000))
    results["ratio"] = results["bot"]["rps"] / results["bare"]["rps"] if results.get("bare", {}).get("rps") else 0.0
    results["connections"] = connections
    return results


def e2e_benchmark(*, rate: int = 200, seconds: int = 10) -> dict:
    def measure(base, fake_url, name, tmp):
        # Warm-up, drained before measuring: the worker process may still be starting (imports,
        # FAQ index) when the web answers /healthz, and a warm-up backlog carried into the
        # measured run was counted as the measured run's latency.
        _paced_run(base, fake_url, rate=rate, seconds=2, prefix=f"W{name}", settle=120)
        return _paced_run(base, fake_url, rate=rate, seconds=seconds, prefix=f"M{name}")

    results = _compare((("echo", "bench.baseline_app:create_echo_app"), ("bot", "bot")), measure)
    results["rate"] = rate
    return results


def _paced_run(base: str, fake_url: str, *, rate: int, seconds: int, prefix: str, settle: float = 3) -> dict:
    """Send ``rate`` x ``seconds`` events at a fixed pace, then wait until every reply arrived
    (at most ``settle`` seconds after the last send: later ones count as lost)."""
    requests.post(fake_url + "/_bench/reset", timeout=5)
    total = rate * seconds
    prepared = []
    with requests.Session() as session:
        for index in range(total):
            user = f"U{prefix}{index:0{32 - len(prefix)}d}"  # 33 characters, unique per event
            token = session.post(f"{fake_url}/_bench/token/{user}", timeout=5).json()["token"]
            body = body_of(text_event(user, token))
            prepared.append((user, body, sign(SECRET, body)))
    sent_at: dict[str, float] = {}
    statuses: list[int] = []
    host, port = base.removeprefix("http://").split(":")
    local = threading.local()

    def post(item):
        # http.client with one keep-alive connection per thread, as LINE's delivery would: the
        # load generator shares the 2 cores with what it measures, and `requests` cost it ~5x.
        user, body, signature = item
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        sent_at[user] = time.time()
        try:
            connection.request("POST", "/callback", body=body,
                               headers={"Content-Type": "application/json", "X-Line-Signature": signature})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        except (OSError, http.client.HTTPException):
            local.connection = None
            statuses.append(0)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for index, item in enumerate(prepared):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, item)
    deadline = time.monotonic() + settle
    while True:
        arrivals = requests.get(fake_url + "/_bench/arrivals", timeout=10).json()["arrivals"]
        if len(arrivals) >= total or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    latencies = sorted((arrivals[user] - sent) * 1000 for user, sent in sent_at.items() if user in arrivals)
    lost = sum(1 for user in sent_at if user not in arrivals)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {"events": total, "replied": len(latencies), "lost": lost, "non_200": sum(s != 200 for s in statuses),
            "statuses": {str(code): statuses.count(code) for code in set(statuses)},
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": statistics.fmean(latencies) if latencies else float("nan")}


if __name__ == "__main__":
    print(json.dumps({"ack": ack_benchmark(), "e2e": e2e_benchmark()}, indent=2))
