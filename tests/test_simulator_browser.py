"""The development chat simulator in a real browser (Debian chromium via Playwright)."""
import os
import socket
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot import create_app
from bot.db import upgrade_schema
from tests.conftest import REPO, SEEDS

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian chromium (make system-deps)")]


@pytest.fixture
def dev_server(tmp_path):
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    upgrade_schema(url)
    app = create_app({"IGNORE_ENVIRONMENT": True, "DATABASE_URL": url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                      "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml"), "LOG_LEVEL": "WARNING",
                      "KNOWLEDGE_DIR": str(REPO / "knowledge" / "entries"), "SEEDS_DIR": str(SEEDS)})
    assert app.config["DEV_MODE"]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.extensions["bot"].start_background()
    yield f"http://127.0.0.1:{port}"
    app.extensions["bot"].stop_background()
    server.shutdown()


def emoji_is_drawn(bubble) -> bool:
    """The welcome's 👋 is drawn in colour (Noto Color Emoji, `make system-deps`), not as a tofu
    box: a white bubble of black text has no saturated pixels unless an emoji glyph is there."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(bubble.screenshot())).convert("RGB")
    pixels = image.load()
    colourful = sum(1 for x in range(image.width) for y in range(image.height)
                    if max(pixels[x, y]) - min(pixels[x, y]) > 80)
    return colourful >= 20


def test_chat_through_the_simulator(dev_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking",
                                                                     "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 420, "height": 860})
        page.goto(f"{dev_server}/dev/simulator")
        # First open: not an empty chat. The page says what it is and presses 加好友 itself.
        expect(page.locator("#log .sys").first).to_contain_text("加好友", timeout=15000)
        expect(page.locator("#log")).to_contain_text("歡迎加入", timeout=15000)
        expect(page.locator("#qr button", has_text="我符合資格嗎？")).to_be_visible()
        assert emoji_is_drawn(page.locator(".msg.bot", has_text="歡迎加入").first)
        page.reload()  # a second open does not greet (or follow) again
        expect(page.locator("#log")).to_contain_text("歡迎加入", timeout=15000)
        assert page.locator(".msg.bot", has_text="歡迎加入").count() == 1
        page.fill("#text", "數位小測驗")
        page.press("#text", "Enter")
        expect(page.locator("#log")).to_contain_text("客人主要從哪裡", timeout=15000)
        page.locator("#qr button", has_text="LINE官方帳號").click()
        expect(page.locator("#log")).to_contain_text("每週大約有幾筆", timeout=15000)
        page.click("#sticker")
        expect(page.locator("#log")).to_contain_text("收到您的貼圖", timeout=15000)
        page.fill("#text", "25")
        page.press("#text", "Enter")
        expect(page.locator(".card .title").last).to_contain_text("請確認", timeout=15000)
        page.locator(".card .footer button", has_text="確認").last.click()
        expect(page.locator("#log")).to_contain_text("小測驗完成", timeout=15000)
        # A second simulated user has a separate conversation.
        page.click("#add-user")
        expect(page.locator("#log")).to_contain_text("歡迎加入", timeout=15000)
        expect(page.locator("#log")).not_to_contain_text("小測驗完成")
        shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "simulator.png"), full_page=True)
        browser.close()
