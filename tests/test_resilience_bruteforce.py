"""Staff and advisor roles can't be brute-forced: invite codes are single use (also when two
people race for one) and guessing is rate-limited per person — even the right code is refused
after too many wrong ones, and nobody else is affected."""
from __future__ import annotations

import secrets
import threading

import pytest
from sqlmodel import select

from bot.models import RoleGrant

service = pytest.importorskip("staff.service", reason="staff invites (staff/service.py) not present")

STAFF = "U" + "5" * 32


def _guess() -> str:
    raw = "".join(secrets.choice(service.CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def test_guessing_is_rate_limited_and_grants_nothing(app):
    database = app.extensions["bot"].database
    attacker, honest = "U" + "a7" * 16, "U" + "b8" * 16
    with database.write_session() as session:
        code, _ = service.create_invite(session, actor=STAFF, role="staff")
    outcomes = []
    for _ in range(30):
        with database.write_session() as session:
            outcomes.append(service.redeem_invite(session, line_user_id=attacker, code=_guess())[0])
    assert outcomes[:service.MAX_FAILED_REDEMPTIONS] == ["invalid"] * service.MAX_FAILED_REDEMPTIONS
    assert set(outcomes[service.MAX_FAILED_REDEMPTIONS:]) == {"rate_limited"}
    with database.write_session() as session:  # even the right code is refused now
        assert service.redeem_invite(session, line_user_id=attacker, code=code)[0] == "rate_limited"
    with database.write_session() as session:  # someone else is not slowed by the attacker
        assert service.redeem_invite(session, line_user_id=honest, code=code) == ("ok", "staff")
    with database.session() as session:
        holders = set(session.exec(select(RoleGrant.line_user_id).where(RoleGrant.role == "staff")).all())
    assert attacker not in holders and honest in holders


def test_a_code_is_single_use_even_when_two_people_race(app):
    database = app.extensions["bot"].database
    with database.write_session() as session:
        code, _ = service.create_invite(session, actor=STAFF, role="advisor")
    racers = [f"U{index:031x}r" for index in range(6)]
    results: dict[str, str] = {}
    start = threading.Barrier(len(racers))

    def redeem(user: str) -> None:
        start.wait()
        with database.write_session() as session:
            results[user] = service.redeem_invite(session, line_user_id=user, code=code)[0]

    threads = [threading.Thread(target=redeem, args=(user,)) for user in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == ["ok"] + ["used"] * (len(racers) - 1)
    with database.session() as session:
        advisors = session.exec(select(RoleGrant).where(RoleGrant.role == "advisor")).all()
    assert len(advisors) == 1
