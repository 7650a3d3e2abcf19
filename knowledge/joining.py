"""「可以報嗎」: whether the asker's shop can join the campaign, answered from the campaign's rules.

Owners ask it in every wording, usually after describing the shop (「我開雞排攤 老婆幫忙顧 沒有公司只有
稅籍 可以報嗎」「我們家中藥行 有商業登記 店裡連我7個人 這樣符合嗎」「做居家清潔的可以嗎」「今年有參加工業局
的計畫 會卡到嗎」). No single entry answers such a question: the answer is the eligibility essentials,
tailored with the facts the owner gave. So it is composed here from the programme's rules
(programs.yaml ``eligibility``: the headcount limit, the registrations accepted, the prior funding
that excludes, and ``eligibility.summary``: the industry direction with its examples) and the
wording in bot/texts/faq.yaml (``join_*``); nothing about a programme year is written in code.

Three kinds, by what the question is about:
* ``industry``: a trade or the industry scope (「文化類的有在範圍嗎」「算你們要的行業嗎」): the direction
  and its examples, the example the owner's trade is closest to, then the essentials in one line;
* ``prior``: earlier funding (「今年有參加工業局的計畫」「110年透過雲市集拿過補助」): what the owner named
  first (the agency on the list; for the SMEA's other programmes this year, the same-year rule), then
  the overlap rule with the agencies that count;
* ``general``: the essentials, each with what the owner said (headcount within or over the limit,
  the registration accepted or not).

The owners' words (which trade is which example, agencies' short names, how a join question is
asked) are data in knowledge/intents.yaml ``joining:``. Pure functions; no index, database or LINE.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from bot.texts import t
from dialogs.parsing import parse_count, parse_registration

from .normalize import normalize_text
from .query import alternation

INTENTS_FILE = Path(__file__).resolve().parent / "intents.yaml"
PROGRAMS_FILE = Path(__file__).resolve().parent.parent / "programs" / "programs.yaml"

# Clauses of a message that state a headcount (「三個人」「員工有12個」「請了十二個阿姨」「師傅加學徒10個」).
_PEOPLE = re.compile(r"\d+(個|位|名)?人|員工|正職|請了?\d|只有我|就我|我自己|一個人|1個人|夫妻|家人|阿姨|工讀"
                     r"|師傅|學徒|店員|夥伴|伙伴|同事|助理|助手|幫手|人手")
_CLAUSES = re.compile(r"[\s,，。!！?？~～、]+")
# 「超過9個人」「10人以上」 compare with a number: it is not the shop's headcount.
_COMPARED = re.compile(r"超過|超出|多於|大於|少於|以上|以下|不到|未滿|至少|最多")
# A shop or trade named by its kind (「家具行」「理髮廳」「殯葬業」), which the trades list may not have.
# A trade's name (早餐店, 五金行); not going to or being in a shop (「一定要來店裡嗎」「到店」).
SHOP_WORD = re.compile(r"(?![來到在回進去])[\u4e00-\u9fff](業|店(?![裡內])|行|攤|社|館|坊|廳|室|舖|鋪|廠|工作室|教室|診所|公司|行號)")
_CONDITION = ("如果", "若", "要是", "假如", "萬一", "假設")
_YEAR_RANGE = re.compile(r"(\d+)\s*[–—~-]\s*(\d+)")


def eligibility_facts(text: str) -> dict:
    """Answers a person already gave while asking (「我們是美甲店 三個人」「只有稅籍」), in the
    eligibility check's fields: the check starts with them filled in, the answer uses them."""
    facts: dict = {}
    registration = parse_registration(text)
    if registration:
        facts["registration"] = registration
    for clause in _CLAUSES.split(text or ""):
        norm = normalize_text(clause)
        if norm and _PEOPLE.search(norm) and not _COMPARED.search(norm):
            count = parse_count(clause)
            if count is not None:
                facts["employees"] = count
                break
    return facts


# What follows a trade word to name the shop (早餐店, 雞排攤, 美甲工作室).
_SHOP_NOUN = r"(店|攤|行|坊|館|社|工作室|室|廳|舖|鋪|院|廠|業者|業)?"

@dataclass(frozen=True)
class JoinQuestion:
    kind: str                                  # general | industry | prior
    facts: dict = field(default_factory=dict)  # eligibility fields the owner stated
    trade: tuple[str, str] | None = None       # (the owner's word, the example it is closest to)
    prior: tuple[str, str] | None = None       # (the owner's word, the item key or agency it names)
    integration: bool = False                  # the question names the track that admits more people
    low_digital: bool = False                  # the owner says they hardly use computers or phones


@dataclass
class JoinWords:
    """knowledge/intents.yaml ``joining:``: how owners ask to join, trades, earlier funding."""
    asks: re.Pattern | None
    weak: re.Pattern | None               # 「這樣可以嗎」: a join question only with the shop's facts
    how: re.Pattern | None
    filler: re.Pattern | None             # words that carry no topic in a join question
    industry: re.Pattern | None
    prior: re.Pattern | None
    trades: tuple[tuple[str, str], ...]   # (owner's word, example), longest word first
    named: tuple[tuple[str, str], ...]    # (owner's word, prior-funding item key or agency), longest first
    items: frozenset[str] = frozenset()   # the words of ``named`` naming an item (an agency or a
                                          # programme needs ``prior`` too)
    integration: re.Pattern | None = None
    low_digital: re.Pattern | None = None  # 「我完全不會用電腦」: the owner's digital skills, not a topic
    other: re.Pattern | None = None        # 「跨不同行業可以嗎」: a rule of the tracks, not whether the shop can join
    agency_schemes: re.Pattern | None = None  # 補助/輔導: with an agency named, the owner tells of earlier funding
    programmes: frozenset[str] = frozenset()  # words of ``named`` naming a programme ...
    programme_prior: re.Pattern | None = None  # ... earlier funding only when taken part in this year
    trade_nouns: re.Pattern | None = None  # a trade word with the shop's noun after it (早餐店, 美甲工作室)
    @classmethod
    def load(cls, path: Path = INTENTS_FILE) -> "JoinWords":
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("joining") or {}

        def pairs(mapping) -> list[tuple[str, str]]:
            return [(normalize_text(str(w)), str(key)) for key, words in (mapping or {}).items() for w in words or ()]

        items = pairs(data.get("prior_items"))
        programmes = pairs(data.get("prior_programmes"))
        trades = tuple(sorted((x for x in pairs(data.get("trades")) if x[0]), key=lambda x: -len(x[0])))
        named = items + pairs(data.get("agencies")) + programmes
        return cls(asks=alternation(data.get("asks")), weak=alternation(data.get("weak")),
                   how=alternation(data.get("how")), filler=alternation(data.get("filler")),
                   industry=alternation(data.get("industry")), prior=alternation(data.get("prior")),
                   trades=trades,
                   trade_nouns=re.compile("(?:" + "|".join(re.escape(w) for w, _ in trades) + ")" + _SHOP_NOUN)
                   if trades else None,
                   named=tuple(sorted((x for x in named if x[0]), key=lambda x: -len(x[0]))),
                   items=frozenset(word for word, _ in items), integration=alternation(data.get("integration")),
                   low_digital=alternation(data.get("low_digital")), other=alternation(data.get("other")),
                   agency_schemes=alternation(data.get("agency_schemes")),
                   programmes=frozenset(word for word, _ in programmes),
                   programme_prior=alternation(data.get("programme_prior")))

    def classify(self, text: str, norm: str) -> JoinQuestion | None:
        """The join question ``text`` asks, or None when it asks something else (how or where to
        apply is another question: 「要去哪裡apply」)."""
        if not norm or any(p is not None and p.search(norm) for p in (self.how, self.other)):
            return None
        # The trade named first is the shop's (「經營民宿 另外請兩個清潔阿姨」 is a 民宿).
        found = [(norm.find(w), -len(w), w, ex) for w, ex in self.trades if w in norm]
        trade = (min(found)[2], min(found)[3]) if found else None
        named = next(((w, key) for w, key in self.named if w in norm), None)
        # A scheme's name is not the shop's industry (the 產業 of 「雲世代產業數位轉型」).
        bare = norm
        for word, _ in self.named:
            bare = bare.replace(word, "|")
        industry = self.industry is not None and bool(self.industry.search(bare))
        if named is not None and named[0] in self.programmes:
            # 「今年有在參加數位群聚」, not 「去年被群聚輔導過 今年再進別的群聚」 (群聚's own rule)
            prior = self.programme_prior is not None and bool(self.programme_prior.search(norm))
        else:
            prior = (named is not None and (named[0] in self.items or (
                self.agency_schemes is not None and bool(self.agency_schemes.search(norm))))) \
                or (self.prior is not None and bool(self.prior.search(norm)))
        facts = eligibility_facts(text)
        asks = self.asks is not None and bool(self.asks.search(norm))
        named_shop = bool(trade or SHOP_WORD.search(bare))
        weak = self.weak is not None and bool(self.weak.search(norm)) and bool(named_shop or prior or facts)
        if not (asks or weak or (industry and named_shop)):
            return None
        kind = "prior" if prior else "industry" if industry else "general"
        return JoinQuestion(kind=kind, facts=facts, trade=trade, prior=named if prior else None,
                            integration=self.integration is not None and bool(self.integration.search(norm))
                            or bool(_COMPARED.search(norm) and _PEOPLE.search(norm)),
                            low_digital=self.low_digital is not None and bool(self.low_digital.search(norm)))

    def residual(self, norm: str) -> str:
        """``norm`` without what a join question is made of (the ask, the shop's facts, trades,
        earlier funding, filler): what is left is another topic (「沒有email 可以參加嗎」)."""
        for word, _ in (*self.trades, *self.named):
            norm = norm.replace(word, "|")
        for pattern in (self.how, self.asks, self.weak, self.industry, self.prior, self.low_digital):
            if pattern is not None:
                norm = pattern.sub("|", norm)
        return norm

    def without_trades(self, told: str, *, asked: str) -> str:
        """``told`` (what the owner said of the shop) without the trade words, unless ``asked`` is
        about trades or industries: then the trade is what the question is about."""
        if "業" in asked or (self.industry is not None and self.industry.search(asked)) or self.trade_nouns is None:
            return told
        # the shop's noun goes with the trade: 「我開早餐店」 leaves 「我開」, not the word 開店
        return self.trade_nouns.sub("", told)

    def asks_in(self, norm: str) -> bool:
        """The clause asks to join, or sets the question's condition (「如果我不想給個資」)."""
        return any(p is not None and p.search(norm) for p in (self.asks, self.weak, self.industry)) \
            or norm.startswith(_CONDITION)

    def about_prior(self, norm: str) -> bool:
        """The clause tells of earlier funding (its content is not the question's topic)."""
        return (self.prior is not None and bool(self.prior.search(norm))) or any(w in norm for w, _ in self.named)

    def is_filler(self, word: str) -> bool:
        """A word of a join question's residual that carries no topic (a headcount, 登記, 我們…)."""
        return self.filler is not None and self.filler.fullmatch(word) is not None


@dataclass(frozen=True)
class JoinRules:
    """What the answer says, read from one programme of programs.yaml."""
    program: str
    max_employees: int | None
    over_message: str
    over_exception: str
    registrations: tuple[tuple[str, str], ...]   # (value, label) accepted
    no_registration: str
    prior: tuple[tuple[str, str, tuple[str, ...], str], ...]  # (key, label, agencies, rule in the seed's words or "")
    direction: str
    examples: tuple[str, ...]
    more_examples: tuple[str, ...]
    sources: tuple[str, ...]
    industry_source: str
    target: str = ""   # whom the campaign is for (「針對數位能力較低…」), for an owner unsure of their skills

    @classmethod
    def from_program(cls, program: str, raw: Mapping[str, Any]) -> "JoinRules | None":
        elig = raw.get("eligibility") or {}
        summary = elig.get("summary") or {}
        rules = elig.get("rules") or []
        fields = elig.get("fields") or {}
        if not summary or not rules:
            return None
        limit = next((r for r in rules if r.get("kind") == "max_count" and r.get("field") == "employees"), {})
        allowed = next((r for r in rules if r.get("kind") == "allowed_values" and r.get("field") == "registration"), {})
        funding = next((r for r in rules if r.get("kind") == "forbidden_any" and r.get("field") == "prior_funding"), {})
        choices = (fields.get("registration") or {}).get("choices") or {}
        industries = summary.get("industries") or {}
        return cls(
            program=program, max_employees=limit.get("max"), over_message=str(limit.get("message", "")),
            over_exception=str((limit.get("messages_by_outcome") or {}).get("needs_review", "")),
            registrations=tuple((v, str(choices.get(v, v))) for v in allowed.get("values") or ()),
            no_registration=str(allowed.get("message", "")),
            prior=tuple((key, _years(str(item.get("label", key))), tuple(item.get("agencies") or ()),
                         str(item.get("rule", ""))) for key, item in (funding.get("items") or {}).items()),
            direction=str(industries.get("direction", "")), examples=tuple(industries.get("examples") or ()),
            more_examples=tuple(industries.get("more_examples") or ()),
            sources=tuple(str(s) for s in summary.get("sources") or ()),
            industry_source=str(industries.get("source", "")), target=str(summary.get("target", "")))

    # ---- the answer -------------------------------------------------------------------------
    def essentials(self) -> str:
        labels = [label for _, label in self.registrations]
        registered = "、".join(labels[:-1]) + ("或" if len(labels) > 1 else "") + labels[-1] if labels else ""
        return t("faq.join_essentials", max=self.max_employees, registrations=registered)

    def prior_line(self) -> str:
        return t("faq.join_prior_short", items="、".join(f"「{label}」" for _, label, _, _ in self.prior))

    def answer(self, question: JoinQuestion) -> tuple[str, list[str]]:
        """(answer text, sources) for ``question``."""
        if question.kind == "industry":
            lines = [t("faq.join_industry", direction=self.direction, examples="、".join(self.examples),
                       more="、".join(self.more_examples))]
            if question.trade:
                lines.append(t("faq.join_industry_trade", trade=question.trade[0], example=question.trade[1]))
            lines.append(self.essentials())
            return "\n".join(lines), [self.industry_source, *self.sources[:1]]
        if question.kind == "prior":
            # What the owner named comes first: it answers them; the whole rule follows.
            named = self._named_prior(question)
            lines = [named] if named else []
            lines.append(t("faq.join_prior", items="\n".join(f"・{label}" for _, label, _, _ in self.prior)))
            agencies = next((a for _, _, a, _ in self.prior if a), ())
            if agencies:
                lines.append(t("faq.join_prior_agencies", agencies="、".join(agencies)))
            lines.append(self.essentials())
            return "\n".join(lines), list(self.sources[1:] or self.sources)
        lines = [self.essentials()]
        if question.low_digital and self.target:
            lines.append(t("faq.join_low_digital", target=self.target))
        employees = question.facts.get("employees")
        if employees is not None and self.max_employees is not None:
            if employees <= self.max_employees:
                lines.append(t("faq.join_employees_within", value=employees, max=self.max_employees))
            else:
                lines.append("・" + self.over_message.format(value=employees, max=self.max_employees))
        if self.over_exception and self.max_employees is not None and (
                (employees is not None and employees > self.max_employees) or question.integration):
            # The rule's own words for the exception (「共融案每案至多 3 家…」), after its headcount part.
            exception = self.over_exception.format(value=employees, max=self.max_employees).split("；")[-1]
            lines.append(t("faq.join_over_exception", max=self.max_employees, exception=exception))
        registration = question.facts.get("registration")
        if registration:
            label = dict(self.registrations).get(registration)
            lines.append(t("faq.join_registration_ok", label=label) if label else "・" + self.no_registration)
        lines.append(self.prior_line())
        if question.trade and question.kind == "general":
            lines.append(t("faq.join_industry_trade", trade=question.trade[0], example=question.trade[1]))
        return "\n".join(lines), list(self.sources)

    def _named_prior(self, question: JoinQuestion) -> str:
        """「您說的「工業局」是名單上的「經濟部工業局」」: the item or agency the owner named."""
        if not question.prior:
            return ""
        word, key = question.prior
        for item_key, label, agencies, rule in self.prior:
            if key == item_key and rule:
                # 「今年有在參加群聚」: the same year's other programme is a rule of its own, not an overlap
                return t("faq.join_prior_named_rule", rule=rule)
            if key == item_key or key in agencies:
                return t("faq.join_prior_named", word=word, label=label if key == item_key else key)
        return ""


def _years(label: str) -> str:
    """「110–112年」 reads 「110至112年」 in a sentence."""
    return _YEAR_RANGE.sub(r"\1至\2", label)


def load_rules(program: str | None, path: str | Path | None = None) -> JoinRules | None:
    """The join rules of ``program`` in programs.yaml (None without a file, the programme or its
    ``eligibility.summary``)."""
    if not program:
        return None
    try:
        with open(path or PROGRAMS_FILE, encoding="utf-8") as fh:
            programs = (yaml.safe_load(fh) or {}).get("programs") or {}
    except OSError:
        return None
    raw = programs.get(program)
    return JoinRules.from_program(program, raw) if isinstance(raw, dict) else None
