"""The check-up as data (checkup/checkup.yaml): areas, questions with one-tap options, the points
each option is worth and the five levels of 004 貳 表1. Loading validates it; scoring is pure."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.messages import LABEL_LIMIT

DATA_FILE = Path(__file__).resolve().parent / "checkup.yaml"


@dataclass(frozen=True)
class Option:
    id: str
    label: str  # the quick reply (≤ 20 characters)
    text: str  # the answer in full
    points: int


@dataclass(frozen=True)
class Question:
    id: str
    area: str
    ask: str
    options: tuple[Option, ...]

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def max_points(self) -> int:
        return max(o.points for o in self.options)


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    tip: str
    tools: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    survey: str  # 004 表1's wording
    min_points: int
    meaning: str


@dataclass(frozen=True)
class OtherProgram:
    program: str
    from_level: int
    note: str


@dataclass(frozen=True)
class Result:
    """A scored check-up: total points, the level reached, points per area (and their maximum)."""

    points: int
    level: int
    areas: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Checkup:
    version: int
    areas: tuple[Area, ...]
    questions: tuple[Question, ...]
    levels: tuple[Level, ...]
    other_programs: tuple[OtherProgram, ...]
    source: str = ""

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def area(self, area_id: str) -> Area | None:
        return next((a for a in self.areas if a.id == area_id), None)

    def level(self, number: int) -> Level:
        return next(level for level in self.levels if level.level == number)

    @property
    def top_level(self) -> int:
        return max(level.level for level in self.levels)

    def score(self, answers: dict[str, str]) -> Result:
        """Points of the answers given (unknown ids count nothing) and the level they reach."""
        points, areas = 0, {a.id: [0, 0] for a in self.areas}
        for question in self.questions:
            option = question.option(str(answers.get(question.id, "")))
            gained = option.points if option else 0
            points += gained
            areas[question.area][0] += gained
            areas[question.area][1] += question.max_points
        level = max((lv.level for lv in self.levels if points >= lv.min_points), default=self.levels[0].level)
        return Result(points=points, level=level, areas={k: (v[0], v[1]) for k, v in areas.items()})

    def weakest_areas(self, result: Result, count: int = 2) -> list[Area]:
        """The areas with the lowest share of their points (ties in the file's order)."""
        ranked = sorted(self.areas, key=lambda a: (result.areas[a.id][0] / (result.areas[a.id][1] or 1),
                                                   self.areas.index(a)))
        return [a for a in ranked if result.areas[a.id][0] < result.areas[a.id][1]][:count]


def _parse(data: dict) -> Checkup:
    areas = tuple(Area(id=str(a["id"]), name=str(a["name"]), tip=str(a.get("tip") or ""),
                       tools=tuple(str(t) for t in a.get("tools") or ()), source=str(a.get("source") or ""))
                  for a in data["areas"])
    area_ids = {a.id for a in areas}
    questions = []
    for item in data["questions"]:
        options = tuple(Option(id=str(o["id"]), label=str(o["label"]), text=str(o.get("text") or o["label"]),
                               points=int(o["points"])) for o in item["options"])
        if str(item["area"]) not in area_ids:
            raise ValueError(f"checkup question {item['id']}: unknown area {item['area']}")
        if not 2 <= len(options) <= 11:  # 上一步 and 取消 share LINE's 13 quick replies
            raise ValueError(f"checkup question {item['id']}: 2 to 11 options")
        for option in options:
            if len(option.label) > LABEL_LIMIT:
                raise ValueError(f"checkup option label over {LABEL_LIMIT} characters: {option.label}")
        questions.append(Question(id=str(item["id"]), area=str(item["area"]), ask=str(item["ask"]), options=options))
    levels = tuple(sorted((Level(level=int(lv["level"]), name=str(lv["name"]), survey=str(lv.get("survey") or ""),
                                 min_points=int(lv["min_points"]), meaning=str(lv["meaning"]))
                           for lv in data["levels"]), key=lambda lv: lv.level))
    if not levels or levels[0].min_points != 0:
        raise ValueError("checkup levels: the first level starts at 0 points")
    others = tuple(OtherProgram(program=str(o["program"]), from_level=int(o["from_level"]), note=str(o["note"]))
                   for o in data.get("other_programs") or ())
    return Checkup(version=int(data.get("version", 1)), areas=areas, questions=tuple(questions), levels=levels,
                   other_programs=others, source=str(data.get("source") or ""))


@lru_cache(maxsize=1)
def checkup() -> Checkup:
    """The check-up, read once: the chat flow's steps are its questions (an edit needs a restart)."""
    with DATA_FILE.open(encoding="utf-8") as handle:
        return _parse(yaml.safe_load(handle))
