"""Letters of intent (002 附件二 企業合作意向書): the letter, its immutable signed versions, the
hash-chained audit trail and attachments (the photo of the stamped paper page).

Versions are written once and never updated: a correction is a new version that supersedes the
previous one (``Letter.current_version_id`` moves). Every change appends a ``LetterEvent`` whose
hash covers the previous event's hash, so editing or deleting a row breaks the chain
(``flask --app bot letters verify``)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Letter(SQLModel, table=True):
    __tablename__ = "letters"
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(default="gonghao-2023", max_length=40, index=True)
    # One letter per company (its versions hold the history): two owners of the same company
    # signing at once cannot create two letters.
    company_id: int = Field(foreign_key="companies.id", index=True, unique=True)
    owner_line_user_id: str = Field(max_length=64, index=True)
    status: str = Field(default="signed", max_length=12, index=True)  # signed | withdrawn
    current_version_id: Optional[int] = Field(default=None)
    version_count: int = Field(default=0)
    # The chain's head, so deleting the last events is detectable too.
    event_count: int = Field(default=0)
    head_hash: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    withdrawn_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class LetterVersion(SQLModel, table=True):
    """One signed version. ``canonical_json`` holds every field and the letter text; ``sha256`` is
    its hash. Never updated after insert."""

    __tablename__ = "letter_versions"
    __table_args__ = (sa.UniqueConstraint("letter_id", "version_no"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True)
    version_no: int
    supersedes_id: Optional[int] = Field(default=None)
    canonical_json: str = Field(sa_type=sa.Text)
    sha256: str = Field(max_length=64, index=True)
    consent_sha256: str = Field(max_length=64)
    signer_line_user_id: str = Field(max_length=64)
    signer_display_name: Optional[str] = Field(default=None, max_length=200)
    signed_name: str = Field(max_length=100)
    channel: str = Field(max_length=12)  # chat | sign_page
    ip: Optional[str] = Field(default=None, max_length=64)
    user_agent: Optional[str] = Field(default=None, max_length=400)
    signature_png: Optional[bytes] = Field(default=None, sa_type=sa.LargeBinary)
    signed_at: datetime = Field(sa_type=UTCDateTime)


class LetterEvent(SQLModel, table=True):
    """An audit event, hash-chained per letter: hash = SHA-256(prev_hash + canonical event)."""

    __tablename__ = "letter_events"
    __table_args__ = (sa.UniqueConstraint("letter_id", "seq"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True)
    seq: int
    kind: str = Field(max_length=20)  # started | viewed | consented | signed | photo_attached | downloaded | corrected | withdrawn
    actor: Optional[str] = Field(default=None, max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    version_id: Optional[int] = Field(default=None)
    detail: dict = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class LetterAttachment(SQLModel, table=True):
    """The photo of the stamped page (公司大小章), fetched from LINE's content endpoint."""

    __tablename__ = "letter_attachments"
    id: Optional[int] = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letters.id", index=True)
    version_id: Optional[int] = Field(default=None)
    kind: str = Field(default="stamped_page", max_length=20)
    mime: str = Field(default="image/jpeg", max_length=40)
    sha256: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_type=sa.LargeBinary)
    line_message_id: Optional[str] = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
