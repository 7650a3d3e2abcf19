"""Limits (issue 18), against the Procfile's own web command: a huge unsigned body is answered 413
before it is read (memory stays flat), and clients trickling their requests — more of them than
the web process has request threads — do not keep /healthz or /callback from answering."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from bot.db import upgrade_schema
from bot.devmode import build_event, post_webhook
from tests.conftest import CHANNEL_SECRET, REPO, free_port, production_environment, wait_healthy

THREADS = 16  # the web command's default request threads (bot.serve.DEFAULT_THREADS)


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.fixture(scope="module")
def procfile_web(tmp_path_factory, fake_line):
    """``web:`` from the Procfile, run as the platform runs it (through a shell)."""
    web = next(line.split(":", 1)[1] for line in (REPO / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}"
    upgrade_schema(url)
    port = free_port()
    env = {**production_environment(url, fake_line), "PORT": str(port),
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = subprocess.Popen(["sh", "-c", web], cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base, port, _server_pid(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _server_pid(shell_pid: int) -> int:
    """The Python process serving (the shell may have exec'd it or started it as its child)."""
    children = open(f"/proc/{shell_pid}/task/{shell_pid}/children").read().split()
    return int(children[0]) if children else shell_pid


def _send_huge(port: int, head: bytes, chunk: bytes, total: int) -> bytes:
    """Send a request head then up to ``total`` bytes of body; return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: it stopped reading, as it should
            pass
        sock.settimeout(10)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        return answer


def test_a_huge_unsigned_body_is_refused_before_it_is_read(procfile_web):
    base, port, pid = procfile_web
    # The FAQ index is built in the background after start-up (knowledge.index.warm_up): wait for it,
    # so its own memory is not counted as growth caused by the refused bodies.
    assert requests.get(f"{base}/api/ask", params={"q": "意向書要蓋章嗎"}, timeout=60).status_code == 200
    before = _rss_kb(pid)
    declared = 400 * 1024 * 1024
    megabyte = b"x" * (1024 * 1024)
    for path in ("/callback", "/healthz", "/api/eligibility"):
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {declared}\r\n\r\n").encode()
        answer = _send_huge(port, head, megabyte, 64 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:80])
    # Chunked, with no length declared: cut off once past the limit.
    head = b"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % len(megabyte) + megabyte + b"\r\n"
    assert _send_huge(port, head, chunk, 64 * 1024 * 1024).startswith(b"HTTP/1.1 413")
    assert _rss_kb(pid) - before < 40 * 1024, "the web process grew while refusing bodies"
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200


def test_the_limit_holds_in_the_app_for_every_route(app):
    client = app.test_client()
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 1024 * 1024 <= limit <= 8 * 1024 * 1024
    body = b"{" + b" " * limit + b"}"
    for path in ("/callback", "/api/eligibility", "/healthz"):
        assert client.post(path, data=body, headers={"X-Line-Signature": "x"}).status_code == 413


def test_trickling_clients_do_not_block_healthz_or_callback(procfile_web, fake_line):
    base, port, _ = procfile_web
    slow = []
    for index in range(THREADS * 3):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if index % 2:  # half trickle their headers, half a body
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        else:
            sock.sendall(b"POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"X-Line-Signature: x\r\nContent-Length: 100000\r\n\r\n{")
        slow.append(sock)
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.5):
            for sock in slow:
                try:
                    sock.send(b" " if sock.fileno() % 2 == 0 else b"X-Slow: 1\r\n")
                except OSError:
                    pass

    dripper = threading.Thread(target=trickle, daemon=True)
    dripper.start()
    try:
        time.sleep(1.0)  # every slow client is connected and sending
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < 2
        event = build_event(fake_line, user_id="U" + "5" * 32, kind="text", text="你好")
        started = time.monotonic()
        assert post_webhook(base, CHANNEL_SECRET, [event]).status_code == 200
        assert time.monotonic() - started < 2
    finally:
        stop.set()
        dripper.join(timeout=5)
        for sock in slow:
            sock.close()


BIG = 24 * 1024 * 1024  # past waitress's 16 MiB output high-water mark: the sending thread waits for the loop


def big_download_app():
    """``bot.serve --app`` factory: a large download (as the evidence pack is) and a small answer."""
    def application(environ, start_response):
        if environ["PATH_INFO"] == "/big":
            start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(BIG))])
            return (b"z" * (1024 * 1024) for _ in range(BIG // (1024 * 1024)))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return application


def test_a_large_download_to_a_slow_reader_arrives_whole_and_others_are_served(tmp_path, fake_line):
    # bot.serve keeps waitress's event loop from polling a channel whose request thread is sending
    # (_channel_class); what the thread cannot send at once must still reach a slow reader.
    port = free_port()
    env = {**production_environment(f"sqlite:///{tmp_path / 'serve.db'}", fake_line), "PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "bot.serve", "--app", "tests.test_security_limits:big_download_app"],
                               cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.5)  # not reading: the socket buffers fill and the rest waits in the server
            started = time.monotonic()
            assert requests.get(f"{base}/small", timeout=5).text == "ok"
            assert time.monotonic() - started < 1
            received, head = 0, b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            received = len(head.split(b"\r\n\r\n", 1)[1])
            while received < BIG:
                data = sock.recv(256 * 1024)
                assert data, f"connection closed after {received} of {BIG} bytes"
                received += len(data)
                if received < 4 * 1024 * 1024:
                    time.sleep(0.01)  # a slow start, then as fast as it goes
            assert time.monotonic() - started < 15
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
