"""LINE downloads (a photo's content, a profile) never run while the bot holds the database's
write lock: on SQLite every webhook ack needs that lock, and a download may take up to
LINE_HTTP_TIMEOUT seconds — the ack (which LINE wants within 2 s) must not wait on it.

The fake LINE checks, while it serves each download, whether another connection could start a
write transaction at that moment. PostgreSQL has no database-wide write lock, so these checks
are for SQLite (the default)."""
from __future__ import annotations

import sqlite3

import pytest
from sqlmodel import select

from bot.models import User
from letters.models import LetterAttachment, LetterVersion
from tests.conftest import joined
from tests.test_letters_chat import JPEG, owner_with_company, sign_in_chat
from tests.test_visits import _advisor, _visits


@pytest.fixture
def downloads(app, fake_line):
    """[(path, writable)] for each download the bot made during the test."""
    url = app.config["DATABASE_URL"]
    if not url.startswith("sqlite"):
        pytest.skip("a database-wide write lock exists on SQLite only")
    path = url.split("///", 1)[1]
    seen: list[tuple[str, bool]] = []

    def writable_now(request_path: str) -> None:
        # A short wait rides out the app's own brief writes (the outbox records "sent" every 50 ms);
        # a download inside the event's transaction holds the lock until this hook returns, so
        # the wait still fails then.
        connection = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            seen.append((request_path, True))
        except sqlite3.OperationalError:
            seen.append((request_path, False))
        finally:
            connection.close()

    fake_line.on_download = writable_now
    yield seen
    fake_line.on_download = None


def test_letter_photo_is_downloaded_before_the_transaction(app, chat, fake_line, downloads):
    owner_with_company(app, chat)
    sign_in_chat(chat)
    fake_line.contents["img-outside"] = (JPEG, "image/jpeg")
    assert "用印頁照片已附" in joined(chat.send("image", message_id="img-outside"))
    content = [writable for path, writable in downloads if path.endswith("/img-outside/content")]
    assert content == [True]
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(LetterAttachment)).one().content == JPEG


def test_visit_photo_is_downloaded_before_the_transaction(app, chat, fake_line, downloads):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 24536806 現地 昨天 10:00 雲端發票開立 1小時")
    fake_line.contents["visit-photo"] = (b"\xff\xd8\xff" + b"x" * 100, "image/jpeg")
    assert "已附上 1 張照片" in joined(advisor.send("image", message_id="visit-photo"))
    assert [writable for path, writable in downloads if "visit-photo" in path] == [True]
    [visit] = _visits(app)
    assert len(visit.photos) == 1


def test_display_name_is_fetched_after_consent_commits_and_signs_the_letter(app, chat, fake_line, downloads):
    """The profile is fetched once the consent is on record (no personal data before it), outside
    the transaction; the letter then carries the stored name without another call to LINE."""
    fake_line.profiles[chat.user_id] = {"displayName": "大明的店"}
    owner_with_company(app, chat)
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(User.display_name).where(User.line_user_id == chat.user_id)).one() is None
    sign_in_chat(chat)  # consents to the privacy statement on the way
    profile_calls = [writable for path, writable in downloads if path.endswith(f"/profile/{chat.user_id}")]
    assert profile_calls and all(profile_calls)
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(User.display_name).where(User.line_user_id == chat.user_id)).one() == "大明的店"
        assert session.exec(select(LetterVersion)).one().signer_display_name == "大明的店"


def test_an_image_outside_any_photo_step_still_gets_an_answer(app, chat, fake_line, downloads):
    """Every photo is fetched before its event (deciding needs the state): one nobody asked for
    costs a download and gets the usual nudge, and LINE having no content for it is no error."""
    chat.follow()
    texts = chat.send("image", message_id="not-on-line")
    assert texts and all(text.strip() for text in texts)
    assert [writable for path, writable in downloads if "not-on-line" in path] == [True]


def test_a_photo_lent_by_another_provider_is_not_fetched_and_asked_for_again(app, chat, fake_line, downloads):
    """contentProvider "external": the image is at the sender's URL, not at LINE. The bot does
    not ask LINE for it; the photo step says it did not arrive and asks again."""
    owner_with_company(app, chat)
    sign_in_chat(chat)
    event = chat.event("image", message_id="img-external")
    event["message"]["contentProvider"] = {"type": "external", "originalContentUrl": "https://example.com/a.jpg",
                                           "previewImageUrl": "https://example.com/a-small.jpg"}
    texts = chat.send_event(event)
    assert "照片沒有收到完整" in joined(texts) and "略過" in chat.labels()
    assert not [path for path, _ in downloads if "img-external" in path]
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(LetterAttachment)).first() is None
