"""Personal-data rules for the tables that exist today (see privacy.registry for the terms).

A domain may (and should) declare its own tables with ``register_personal_data`` in its package;
until it does, these rules or the generic fallback apply. Declared by table *name*, so nothing here
imports another domain."""
from __future__ import annotations

from privacy import registry


def register_personal_data(table: str, **rule) -> None:
    """A default: a domain's own declaration (made before or after) wins over this one."""
    if table not in registry.RULES:
        registry.register_personal_data(table, **rule)


def register_known_tables() -> None:
    # --- core (bot/models.py) ---
    # The user row itself is anonymised by privacy.erasure (not deleted: other rows point at it).
    register_personal_data("users", user_columns=("line_user_id",), erase_columns=("display_name",),
                           generic=False)
    register_personal_data("role_grants", user_columns=("line_user_id", "granted_by"),
                           owner_columns=("line_user_id",), delete_rows=True)
    # Keep the event row (its webhookEventId makes redelivery a no-op) but not what was said.
    register_personal_data("inbound_events", user_columns=("line_user_id",), erase_columns=("payload", "error"))
    register_personal_data("conversations", user_columns=("line_user_id",), delete_rows=True)
    # Keep the row (its idempotency key prevents a resend); drop the addressee's id and the content.
    register_personal_data("outbound_messages", user_columns=("recipient", "recipients"),
                           owner_columns=("recipient",), erase_columns=("messages", "reply_token", "last_error"))
    # The audit trail stays (who did what, when) with the actor pseudonymised.
    register_personal_data("audit_log", user_columns=("actor", "target"), owner_columns=("actor",),
                           json_columns=("detail",), retain_reason="audit")
    # --- companies ---
    # Companies are handled by privacy.erasure (a business is kept while others speak for it or a
    # signed letter needs it).
    register_personal_data("companies", user_columns=("advisor_line_user_id",), owner_columns=(),
                           json_columns=("answers",), related_by_company=True)
    register_personal_data("company_members", user_columns=("line_user_id",), delete_rows=True)
    # --- visits: programme evidence (002 叁 基本工作項目: ≥ 3 visits per company) ---
    register_personal_data("visits", user_columns=("advisor_line_user_id", "created_by"), owner_columns=(),
                           related_by_company=True, retain_reason="visits")
    # --- letters of intent (002 附件二): privacy.letters_retention does the work ---
    register_personal_data("letters", user_columns=("owner_line_user_id",), related_by_company=True,
                           retain_reason="letter", generic=False)
    register_personal_data("letter_versions", user_columns=("signer_line_user_id",), generic=False,
                           hidden_columns=("signature_png",))
    register_personal_data("letter_events", user_columns=("actor",), generic=False)
    register_personal_data("letter_attachments", owner_columns=(), generic=False, hidden_columns=("content",))
    # --- scheduler ---
    register_personal_data("reminders", user_columns=("recipient", "claimed_by"), owner_columns=("recipient",),
                           delete_rows=True)
    # --- broadcasts ---
    register_personal_data("broadcasts", user_columns=("created_by",), owner_columns=())
    register_personal_data("broadcast_lists", user_columns=("members", "created_by"), owner_columns=("members",))
    # --- staff ---
    register_personal_data("staff_invites", user_columns=("created_by", "used_by"), owner_columns=("used_by",),
                           erase_columns=("name",), hidden_columns=("code_hash",))
    register_personal_data("staff_invite_attempts", user_columns=("line_user_id",), delete_rows=True)
    register_personal_data("staff_login_tokens", user_columns=("line_user_id",), delete_rows=True,
                           hidden_columns=("token_hash",))
    register_personal_data("team_members", user_columns=("line_user_id",), erase_columns=("display_name",),
                           delete_rows=True)
    # --- knowledge: the unanswered-question log ---
    register_personal_data("unanswered_questions", user_columns=("line_user_id", "answered_by"),
                           owner_columns=("line_user_id",), erase_columns=("question",), delete_rows=True)
    # --- eligibility: the funded-business register holds businesses, not people (generic fallback) ---
    # --- privacy: erasures hold only pseudonyms ---
    register_personal_data("privacy_erasures", owner_columns=())
