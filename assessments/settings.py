"""The 前測／後測 as campaign data (programs.yaml ``campaign.capability_tests``): title, link, when
the link goes out, the due date and the chases before it. Nothing here is hard-coded."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.settings import Milestone, parse_programme_datetime

TESTS = ("pretest", "posttest")  # the two the programme names (002 捌 四 (七)); data may omit one


@dataclass(frozen=True)
class CapabilityTest:
    id: str
    title: str
    url: str
    opens: datetime  # aware UTC: the link goes to every signed owner from then on
    due: datetime
    chase: tuple[str, ...]  # offsets before ``due`` ('14d', '2d'), as for milestones

    def is_open(self, now: datetime) -> bool:
        return self.opens <= now < self.due

    def as_milestone(self) -> Milestone:
        """The due date as a milestone, so chases use the scheduler's offset rules."""
        return Milestone(code=f"capability_{self.id}", title=self.title, at=self.due, offsets=self.chase)


def parse_tests(campaign: dict | None) -> dict[str, CapabilityTest]:
    found = {}
    for test_id, raw in ((campaign or {}).get("capability_tests") or {}).items():
        if not isinstance(raw, dict) or not raw.get("url") or not raw.get("opens") or not raw.get("due"):
            continue  # 'source:' and tests not announced yet
        found[str(test_id)] = CapabilityTest(
            id=str(test_id), title=str(raw.get("title") or test_id), url=str(raw["url"]),
            opens=parse_programme_datetime(raw["opens"]), due=parse_programme_datetime(raw["due"]),
            chase=tuple(str(o) for o in raw.get("chase") or ()))
    return found


def tests_of(config, program_id: str | None = None) -> dict[str, CapabilityTest]:
    from visits.service import programs_doc

    body = (programs_doc(config).get("programs") or {}).get(program_id or "gonghao-2023") or {}
    return parse_tests(body.get("campaign"))
