"""The letter as a document: campaign settings, the template (letters/templates/letter.yaml),
field validation, the rendered text, canonical JSON and hashes. No database here."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz.distance import Levenshtein

from bot.texts import t
from bot.timeutil import TAIPEI, to_taipei
from dialogs.parsing import parse_count, strip_address_prefix, words_refusal
from visits.service import programs_doc

TEMPLATE_FILE = Path(__file__).resolve().parent / "templates" / "letter.yaml"

# The fields a signed letter carries (002 附件二 一、企業基本資料 and the signature block).
FIELDS = ("company_name", "tax_id", "registration", "employees", "contact_name", "mobile", "phone",
          "email", "address", "representative")


@lru_cache(maxsize=1)
def template() -> dict:
    with TEMPLATE_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- campaign settings (programs.yaml `campaign:`) ----------------------------------------------

def programme_data(config: dict, program_id: str) -> dict:
    """The programme's section of PROGRAMS_FILE (re-read when the file changes on disk)."""
    return (programs_doc(config).get("programs") or {}).get(program_id) or {}


def campaign_settings(config: dict, program_id: str = "gonghao-2023") -> dict:
    """The programme's ``campaign:`` section (empty dict when absent). Tests may override it via
    ``config["LETTERS_CAMPAIGN_OVERRIDES"] = {program_id: {...}}``."""
    campaign = dict(programme_data(config, program_id).get("campaign") or {})
    campaign.update((config.get("LETTERS_CAMPAIGN_OVERRIDES") or {}).get(program_id, {}))
    return campaign


def parse_roc_datetime(text: str) -> datetime:
    """'112/03/16 17:00' (民國) or '2023-03-16T17:00' -> aware Asia/Taipei datetime."""
    text = str(text).strip()
    match = re.fullmatch(r"(\d{2,3})/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?", text)
    if match:
        year, month, day, hour, minute = match.groups()
        return datetime(int(year) + 1911, int(month), int(day), int(hour or 23), int(minute or 59),
                        tzinfo=TAIPEI)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)


# --- validation (zh-TW messages in bot/texts/letters.yaml) -----------------------------------------

class FieldError(ValueError):
    """A value the owner typed is not acceptable; ``message`` is zh-TW."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize(text: object) -> str:
    """NFKC (full-width digits/letters to ASCII), trimmed, inner runs of spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", str(text or "")).split())


def _words(value: str, invalid: str) -> str:
    refusal = words_refusal(value, invalid)
    if refusal:
        raise FieldError(refusal)
    return value


def parse_company_name(text: str) -> str:
    value = normalize(text)
    if not 2 <= len(value) <= 100:
        raise FieldError(t("letters.invalid_company_name"))
    return _words(value, t("letters.invalid_company_name"))


_NAME = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z·・.\- ]{2,30}$")


def parse_person_name(text: str) -> str:
    value = normalize(text)
    if not _NAME.match(value) or len(value.replace(" ", "")) < 2:
        raise FieldError(t("letters.invalid_name"))
    return _words(value, t("letters.invalid_name"))


# A number typed digit by digit in words (「零九一二…」), as some owners do; only a whole one
# (「跟手機一樣」 stays words).
_SPOKEN_DIGITS = str.maketrans("零〇○一二三四五六七八九", "000123456789")


def _digits(value: str) -> str:
    return value.translate(_SPOKEN_DIGITS) if re.fullmatch(r"[零〇○一二三四五六七八九0-9\s\-()#]+", value) else value


def parse_mobile(text: str) -> str:
    digits = re.sub(r"[\s\-().]", "", _digits(normalize(text)))
    if digits.startswith("+886"):
        digits = "0" + digits[4:]
    elif digits.startswith("886") and len(digits) == 12:
        digits = "0" + digits[3:]
    if not re.fullmatch(r"09\d{8}", digits):
        raise FieldError(t("letters.invalid_mobile"))
    return digits


# Taiwan landline area codes, longest first (金門 082, 馬祖 0836, 烏坵 0826, 苗栗 037, 南投 049, 台東 089).
_AREA_CODES = ("0826", "0836", "037", "049", "082", "089", "02", "03", "04", "05", "06", "07", "08")
_EXTENSION = re.compile(r"(?:#|＃|分機|轉|ext\.?|x)\s*(\d{1,6})\s*$", re.IGNORECASE)


_NO_LANDLINE = re.compile(r"(我?(沒有|沒|無|不用|不需要)(市話|室內電話|電話|家裡電話|店裡電話)?(耶|喔|欸|了)?|同手機號碼?|跟手機一樣|一樣)")


def parse_phone(text: str, *, mobile: str | None = None) -> str:
    """A landline with area code (02-2345-6789), optional extension (#123); a mobile also counts
    (many micro-businesses have no landline). Returns a normalised display form."""
    value = _digits(normalize(text))
    if value in (t("letters.phone_same_as_mobile"), "同上") and mobile:
        return mobile
    if mobile and _NO_LANDLINE.fullmatch(value.replace(" ", "")):
        return mobile  # 「沒有」「不用」「沒有市話」: the question says the mobile stands in then
    extension = ""
    found = _EXTENSION.search(value)
    if found:
        extension = found.group(1)
        value = value[:found.start()]
    if not re.fullmatch(r"[\d\s\-()]+", value or "x"):
        raise FieldError(t("letters.invalid_phone"))
    digits = re.sub(r"\D", "", value)
    if re.fullmatch(r"09\d{8}", digits):
        return digits + (f"#{extension}" if extension else "")
    area = next((code for code in _AREA_CODES if digits.startswith(code)), None)
    if area is None or not 9 <= len(digits) <= 10 or len(digits) - len(area) < 5:
        raise FieldError(t("letters.invalid_phone"))
    local = digits[len(area):]
    if len(local) >= 7:  # 2345-6789, 234-5678; shorter local numbers (037-123456) stay whole
        local = f"{local[:-4]}-{local[-4:]}"
    return f"{area}-{local}" + (f"#{extension}" if extension else "")


_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


# Mail services Taiwanese shops use most: an address one or two keys away from one of them
# (「gmial.com」「yahoo.com.tw」 typed 「yaho.com.tw」) is almost surely a slip, and the signed
# letter's copy would never arrive.
COMMON_MAIL_DOMAINS = ("gmail.com", "yahoo.com.tw", "yahoo.com", "hotmail.com", "outlook.com",
                       "msa.hinet.net", "icloud.com", "livemail.tw", "pchome.com.tw", "seed.net.tw")


def likely_email_typo(email: str) -> str | None:
    """The address with its domain corrected to a common mail service it is a slip of, or None."""
    local, _, domain = email.rpartition("@")
    if not local or domain in COMMON_MAIL_DOMAINS:
        return None
    near = min(COMMON_MAIL_DOMAINS, key=lambda d: Levenshtein.distance(domain, d))
    return f"{local}@{near}" if Levenshtein.distance(domain, near) <= 2 else None


def parse_email(text: str) -> str:
    value = normalize(text).replace(" ", "")
    if not _EMAIL.match(value) or ".." in value:
        raise FieldError(t("letters.invalid_email"))
    return value


_COUNTIES = tuple(t("eligibility.counties").split("、"))  # the list the eligibility intake uses


def split_address(address: str) -> tuple[str | None, str | None]:
    """(縣市, 鄉鎮市區) at the start of a Taiwanese address, for the 預定輔導企業彙總表."""
    value = normalize(strip_address_prefix(address)).replace("台", "臺")
    county = next((c for c in _COUNTIES if value.startswith(c)), None)
    if county is None:
        return None, None
    rest = value[len(county):]
    township = re.match(r"(.{1,3}?[鄉鎮市區])", rest)
    return county, township.group(1) if township else None


def parse_address(text: str) -> str:
    value = normalize(strip_address_prefix(text))
    county, _ = split_address(value)
    if county is None or not 8 <= len(value) <= 150:
        raise FieldError(t("letters.invalid_address"))
    return value


def parse_main_product(text: str) -> str:
    value = normalize(text)
    if not 1 <= len(value) <= 100:
        raise FieldError(t("letters.invalid_main_product"))
    return _words(value, t("letters.invalid_main_product"))


def parse_employees(text: str, *, most: int | None = None) -> int:
    """「3」「3人」「五個人」「只有我自己」 -> the count; a negative, a range or words -> refused, and
    above ``most`` (the programme's plausible headcount, programs.yaml) a slip to type again."""
    count = parse_count(text)
    if count is None:
        raise FieldError(t("letters.invalid_employees"))
    if most is not None and count > most:
        raise FieldError(t("eligibility.implausible_employees", count=count))
    return count


def registration_kind(registration: str | None) -> str | None:
    """Company.registration -> the letter's two boxes: registered (公司/商業登記) | tax_only."""
    if registration in ("company", "business", "registered"):
        return "registered"
    if registration == "tax_only":
        return "tax_only"
    return None


# --- rendering ----------------------------------------------------------------------------------

def _fmt(text: str, campaign: dict) -> str:
    return text.format(plan_name=campaign.get("plan_name", ""), proposing_unit=campaign.get("proposing_unit", ""),
                       adoption_deadline=campaign.get("adoption_deadline", ""), provider=campaign.get("provider", ""))


def title(campaign: dict) -> str:
    """The letter's title line; a campaign still on example values (programs.yaml ``demo:``)
    marks it 「範例」, so no one mistakes a development letter for a real one."""
    text = _fmt(template()["title"], campaign)
    return t("campaign.letter_mark") + text if campaign.get("demo") else text


def consent_text() -> str:
    """Sections 三–七 exactly as signed; their SHA-256 is recorded with each consent."""
    return template()["consent_sections"].strip()


def consent_sha256() -> str:
    return sha256_hex(consent_text())


def roc_date_parts(moment: datetime) -> dict:
    local = to_taipei(moment)
    return {"year": local.year - 1911, "month": local.month, "day": local.day}


def field_value(name: str, fields: dict) -> str:
    tpl = template()
    value = fields.get(name)
    if name == "registration":
        return tpl["registration_options"].get(value or "", "")
    if name == "employees":
        return tpl["employees_format"].format(employees=value if value is not None else "")
    return "" if value is None else str(value)


def render_text(campaign: dict, fields: dict, *, signed_at: datetime | None = None,
                signed_name: str | None = None) -> str:
    """The full letter as plain text: what the owner reads on the full-text page and what the
    canonical JSON of a version holds."""
    tpl = template()
    labels = tpl["labels"]
    solution = campaign.get("solution") or {}
    lines = [title(campaign), tpl["subtitle"], "", _fmt(tpl["preamble"], campaign), "", tpl["section1"]]
    if campaign.get("demo"):
        lines.insert(2, t("campaign.letter_mark_note"))
    for name in FIELDS:
        lines.append(f"{labels[name]}：{field_value(name, fields)}")
    lines += ["", _fmt(tpl["section2"], campaign), _fmt(tpl["solution_label"], campaign),
              f"{tpl['usage_period_label']}：{campaign.get('usage_period', '')}", f"{tpl['content_label']}："]
    lines += [f"・{item}" for item in solution.get("items") or []]
    if solution.get("sla"):
        lines.append(f"・{tpl['sla_prefix']}{solution['sla']}")
    if solution.get("integration_services"):
        lines.append(f"・{tpl['integration_prefix']}{solution['integration_services']}")
    lines.append(f"{tpl['other_coaching_label']}：")
    lines += [f"・{item}" for item in campaign.get("other_coaching") or []]
    lines += ["", consent_text(), "", tpl["signature_intro"]]
    for name, label in tpl["signature_labels"].items():
        lines.append(f"{label}：{field_value(name, fields)}")
    if signed_at is not None:
        lines.append(tpl["date_format"].format(**roc_date_parts(signed_at)))
    if signed_name:
        lines.append(f"{labels['representative']}簽署：{signed_name}")
    return "\n".join(lines)


# --- canonical JSON and hashes -------------------------------------------------------------------

def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def sha256_hex(value: str | bytes) -> str:
    return hashlib.sha256(value.encode("utf-8") if isinstance(value, str) else value).hexdigest()


def taipei_iso(moment: datetime) -> str:
    return to_taipei(moment).isoformat()


def campaign_snapshot(campaign: dict) -> dict:
    """The campaign settings that appear in the letter (stored in each signed version)."""
    keys = ("proposing_unit", "plan_name", "provider", "solution", "usage_period", "other_coaching",
            "adoption_deadline", "track")
    snapshot = {key: campaign.get(key) for key in keys}
    if campaign.get("demo"):  # signed on example values (development): the record says so
        snapshot["demo"] = list(campaign["demo"])
    return snapshot
