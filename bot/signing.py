"""Signed, expiring links (letters to sign, PDFs, privacy exports): one serializer per purpose,
keyed from SECRET_KEY (always set: production requires it, development keeps a random one in
instance/; see bot.config). Never the channel secret: whoever holds that must not forge links."""
from __future__ import annotations

import hashlib

from itsdangerous import URLSafeTimedSerializer


def link_serializer(config: dict, namespace: str, purpose: str) -> URLSafeTimedSerializer:
    """``namespace`` keeps one feature's tokens useless to another; ``purpose`` is the salt."""
    secret = config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError(f"{namespace} links need SECRET_KEY")
    key = hashlib.sha256(f"{namespace}:{secret}".encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt=purpose)
