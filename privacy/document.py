"""「我的資料」 as a document a person can read: zh-TW sections and labels (the web page and the CSV
behind the download buttons), built from the data map. The JSON export stays the complete,
machine-readable copy; this one says the same things in words, with no table or field names."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from bot.texts import t
from bot.timeutil import format_roc_date, format_roc_datetime
from privacy import datamap

# Tables told in their own section; every other table is counted under its zh-TW name
# (privacy.yaml table_<name>; a test checks every table has one).
TOLD = ("users", "role_grants", "companies", "company_members", "letters", "letter_versions", "letter_events",
        "letter_attachments", "visits", "reminders", "unanswered_questions", "inbound_events",
        "outbound_messages", "audit_log")


@dataclass
class Entry:
    heading: str
    fields: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Section:
    title: str
    entries: list[Entry] = field(default_factory=list)


def _when(value) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_roc_datetime(moment)


def _day(value) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_roc_date(moment)


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return t("privacy.yes") if value else t("privacy.no")
    if isinstance(value, list):
        return "、".join(_text(v) for v in value) or "—"
    return str(value)


def table_label(name: str) -> str:
    try:
        return t(f"privacy.table_{name}")
    except KeyError:
        return t("privacy.table_other")


def _answer_lines(company: dict, programs: dict | None) -> list[tuple[str, str]]:
    """The eligibility answers with the programme's own labels and choice names."""
    program = (programs or {}).get(company.get("program_id"))
    lines = []
    for name, value in (company.get("answers") or {}).items():
        spec = program.fields.get(name) if program else None
        if not spec:
            continue  # an answer the programme no longer asks: its value is in the JSON copy
        choices = {str(k): str(v) for k, v in (spec.get("choices") or {}).items()}
        shown = [choices.get(str(v), _text(v)) for v in value] if isinstance(value, list) else choices.get(str(value), _text(value))
        lines.append((str(spec.get("label", "")), _text(shown)))
    return lines


def _message_text(messages) -> str:
    texts = []
    for message in messages or []:
        if isinstance(message, dict):
            texts.append(message.get("text") or message.get("altText") or t("privacy.message_other"))
    return "\n".join(texts) or t("privacy.message_other")


def sections(session, *, line_user_id: str, programs: dict | None = None) -> list[Section]:
    data = datamap.person_rows(session, line_user_id=line_user_id)
    result: list[Section] = []

    def add(title_key: str, entries: list[Entry]) -> None:
        if entries:
            result.append(Section(t(f"privacy.doc_{title_key}"), entries))

    users = data.get("users") or []
    if users:
        user = users[0]
        add("profile", [Entry("", [
            (t("privacy.row_name"), _text(user.get("display_name"))),
            (t("privacy.doc_followed"), _when(user.get("followed_at"))),
            (t("privacy.row_consent"), t("privacy.doc_consented", date=_day(user["consented_at"]))
             if user.get("consented_at") else t("privacy.row_consent_no")),
            (t("privacy.row_reminders"), t("privacy.row_reminders_on") if user.get("reminders_enabled")
             else t("privacy.row_reminders_off")),
            (t("privacy.row_processing"), t("privacy.row_processing_stopped") if user.get("processing_stopped")
             else t("privacy.row_processing_on"))])])
    roles = [t(f"staff.role_{row['role']}") for row in data.get("role_grants") or [] if row.get("role")]
    if roles:
        add("roles", [Entry("", [(t("privacy.doc_role"), "、".join(roles))])])
    companies = []
    for company in data.get("companies") or []:
        fields = [(t(f"privacy.field_{name}"), _text(company.get(column))) for column, name in (
            ("name", "company_name"), ("tax_id", "tax_id"), ("county", "county"), ("township", "township"),
            ("industry", "industry"), ("main_product", "main_product"), ("employees", "employees"))]
        verdict = company.get("verdict")
        fields.append((t("privacy.doc_verdict"), t(f"privacy.verdict_{verdict}") if verdict else "—"))
        fields += _answer_lines(company, programs)
        companies.append(Entry(_text(company.get("name") or company.get("tax_id")), fields))
    add("companies", companies)
    letters = {row["id"]: row for row in data.get("letters") or []}
    versions = []
    for version in data.get("letter_versions") or []:
        from letters import document as letter_doc  # only when the letters domain has rows

        letter = letters.get(version.get("letter_id")) or {}
        try:
            content = json.loads(version.get("canonical_json") or "{}")
        except ValueError:
            content = {}
        fields = [(t("privacy.doc_letter_status"), t(f"privacy.letter_{letter.get('status')}")),
                  (t("privacy.doc_signed_at"), _when(version.get("signed_at"))),
                  (t("privacy.doc_signed_name"), _text(version.get("signed_name")))]
        labels = letter_doc.template()["labels"]
        fields += [(labels[name], letter_doc.field_value(name, content.get("fields") or {}) or "—")
                   for name in letter_doc.FIELDS]
        versions.append(Entry(t("privacy.doc_letter_version", version=version.get("version_no")), fields))
    add("letters", versions)
    visits = [Entry(_day(v.get("visited_at") or v.get("scheduled_at")), [
        (t("visits.label_mode"), t(f"visits.mode_{v['mode']}") if v.get("mode") else "—"),
        (t("visits.label_duration"), t("visits.duration_minutes", minutes=v["duration_minutes"])
         if v.get("duration_minutes") else "—"),
        (t("visits.label_topics"), _text(v.get("topics")))])
        for v in data.get("visits") or [] if not v.get("deleted_at")]
    add("visits", visits)
    reminders = [Entry(_when(r.get("due_at")), [
        (t("privacy.doc_reminder"), _text((r.get("payload") or {}).get("title")) if (r.get("payload") or {}).get("title")
         else t("privacy.doc_reminder_visit")),
        (t("privacy.doc_status"), t(f"privacy.reminder_{r.get('status')}") if r.get("status") in (
            "pending", "sent", "skipped", "cancelled") else t("privacy.reminder_other"))])
        for r in data.get("reminders") or []]
    add("reminders", reminders)
    questions = [Entry(_when(q.get("asked_at")), [(t("privacy.doc_question"), _text(q.get("question"))),
                                                  (t("privacy.doc_answer"), _text(q.get("answer")))])
                 for q in data.get("unanswered_questions") or []]
    add("questions", questions)
    received = [Entry(_when(e.get("received_at")), [(t("privacy.doc_you_sent"), _said(e.get("payload")))])
                for e in data.get("inbound_events") or []]
    add("messages_in", received)
    sent = [Entry(_when(m.get("sent_at") or m.get("created_at")), [(t("privacy.doc_we_sent"),
                                                                    _message_text(m.get("messages")))])
            for m in data.get("outbound_messages") or []]
    add("messages_out", sent)
    actions = [Entry(_when(a.get("at")), [(t("privacy.doc_action"), audit_label(a.get("action") or ""))])
               for a in data.get("audit_log") or []]
    add("activity", actions)
    others = [(table_label(name), t("privacy.count", n=len(rows))) for name, rows in data.items()
              if name not in TOLD and rows]
    if others:
        add("other", [Entry("", others)])
    return result


def _said(payload) -> str:
    """What the person sent, in words (a text as typed; stickers, photos, taps by kind)."""
    event = payload if isinstance(payload, dict) else {}
    message = event.get("message") or {}
    if message.get("type") == "text":
        return _text(message.get("text"))
    kind = message.get("type") or event.get("type") or ""
    try:
        return t(f"privacy.said_{kind}")
    except KeyError:
        return t("privacy.said_other")


def audit_label(action: str) -> str:
    """An audit action in words (the dashboard's labels, staff.yaml audit_<action>)."""
    try:
        return t(f"staff.audit_{action}")
    except KeyError:
        return t("privacy.audit_other")


def csv_rows(doc: list[Section]) -> tuple[list[str], list[list[str]]]:
    header = [t("privacy.csv_section"), t("privacy.csv_item"), t("privacy.csv_field"), t("privacy.csv_value")]
    rows = [[section.title, entry.heading, label, value]
            for section in doc for entry in section.entries for label, value in entry.fields]
    return header, rows
