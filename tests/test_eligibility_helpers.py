"""Shared builders for the eligibility tests (not a test module)."""
from __future__ import annotations

from functools import lru_cache

from eligibility.engine import load_programs
from eligibility.routes import DEFAULT_PROGRAMS_FILE as PROGRAMS_FILE
from eligibility.taxid import is_valid_tax_id


@lru_cache(maxsize=1)
def programs():
    return load_programs(PROGRAMS_FILE)


def gonghao():
    return programs()["gonghao-2023"]


def cluster():
    return programs()["cluster-2022"]


@lru_cache(maxsize=1)
def valid_tax_ids(n: int = 60) -> tuple[str, ...]:
    found, i = [], 10000000
    while len(found) < n:
        i += 7
        if is_valid_tax_id(str(i)):
            found.append(str(i))
    return tuple(found)


def member(i: int, **flags) -> dict:
    base = {"name": f"店家{i}", "tax_id": valid_tax_ids()[i], "owner": f"負責人{i}",
            "sme_standard": True, "small_business": False, "coached_last_year": False,
            "coached_within_3y": False, "other_smea_this_year": False, "original_member": False}
    base.update(flags)
    return base


def roster(n: int, *, small: int = 0, coached_last_year: int = 0, originals: int = 0) -> list[dict]:
    """n members; the last `small` are 小規模商業 only; the first `coached_last_year`
    were coached last year; the first `originals` are original members (B)."""
    out = []
    for i in range(n):
        flags = {}
        if i >= n - small:
            flags.update(sme_standard=False, small_business=True)
        if i < coached_last_year:
            flags.update(coached_last_year=True, coached_within_3y=True)
        if i < originals:
            flags.update(original_member=True, coached_last_year=True, coached_within_3y=True)
        out.append(member(i, **flags))
    return out


def cluster_a(members: list[dict]) -> dict:
    return {"category": "A", "participated_last_year": False, "previous_roster_size": 0,
            "members": members}


def cluster_b(members: list[dict], *, previous: int, participated: bool = True) -> dict:
    return {"category": "B", "participated_last_year": participated,
            "previous_roster_size": previous, "members": members}
