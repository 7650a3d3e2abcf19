"""Erasure leaves no traces (issue 18): a letter PDF link dies with 「停止處理」 and 「刪除我的資料」,
a download never writes an erased or unknown LINE id into the immutable letter events, and on
SQLite the database files (db, -wal, -shm, the spool) no longer hold the erased phone, e-mail or
LINE id once the erasure is final."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.spool import spool_path
from letters import links
from letters.models import Letter, LetterEvent
from privacy import finalise
from privacy.models import PrivacyErasure
from tests.conftest import eventually, joined
from tests.test_privacy import EMAIL, MOBILE, USER, _sign_letter, add_company, consent


def _pdf_path(app, letter_id: int, user_id: str) -> str:
    with app.extensions["bot"].database.session() as session:
        version_id = session.get(Letter, letter_id).current_version_id
    url = links.pdf_url(app.config, letter_id=letter_id, version_id=version_id, user_id=user_id)
    return "/" + url.split("/", 3)[3]


def _actors(app, letter_id: int) -> list[str]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(LetterEvent.actor).where(LetterEvent.letter_id == letter_id)).all())


def _database_files(app) -> list[Path]:
    main = Path(app.extensions["bot"].database.file)
    spool = Path(spool_path(str(main)))
    return [path for base in (main, spool) for path in (base, Path(f"{base}-wal"), Path(f"{base}-shm"))
            if path.exists()]


def _files_holding(app, values: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in _database_files(app):
        data = path.read_bytes()
        found += [(path.name, value) for value in values if value.encode() in data]
    return found


def test_pdf_links_die_with_stop_processing_and_erasure_and_leave_no_trace(app, chat):
    consent(chat)
    letter_id = _sign_letter(app, add_company(app))
    client = app.test_client()
    path = _pdf_path(app, letter_id, USER)
    assert client.get(path).status_code == 200

    assert "停止處理" in joined(chat.say("停止處理"))
    assert client.get(path).status_code == 410  # the PDF carries the contact's mobile and e-mail
    chat.say("恢復處理")
    assert client.get(path).status_code == 200

    # A link for someone the bot does not know (or no longer knows) records nothing.
    stranger = _pdf_path(app, letter_id, "U" + "f" * 32)
    events_before = len(_actors(app, letter_id))
    assert client.get(stranger).status_code == 410
    assert len(_actors(app, letter_id)) == events_before

    chat.say("刪除我的資料")
    chat.tap("我了解，刪除")
    assert "已刪除您的個人資料" in joined(chat.say("確定刪除"))
    assert client.get(path).status_code == 410
    assert USER not in _actors(app, letter_id)  # the earlier downloads are pseudonymised
    assert len(_actors(app, letter_id)) == events_before + 1  # + the redaction; no download

    runtime = app.extensions["bot"]
    runtime.worker.wait_idle(5)
    runtime.sender.deliver_due()
    finalise(runtime.database)  # (the background finaliser may have done it already)

    def unfinished():
        with runtime.database.engine.connect() as connection:
            return connection.execute(select(PrivacyErasure.id).where(PrivacyErasure.finalised_at.is_(None))).all()

    assert eventually(lambda: not unfinished(), 15)
    if not runtime.database.is_sqlite:
        return
    assert {path.name for path in _database_files(app)} >= {"test.db"}
    erased = [USER, MOBILE, EMAIL]
    # The finaliser checkpoints and truncates the write-ahead logs once the erasure is final.
    assert eventually(lambda: not _files_holding(app, erased), 10), _files_holding(app, erased)


@pytest.mark.parametrize("pragma, expected", [("secure_delete", 1), ("journal_mode", "wal")])
def test_sqlite_zeroes_deleted_content(app, pragma, expected):
    database = app.extensions["bot"].database
    if not database.is_sqlite:
        pytest.skip("SQLite files only")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected
