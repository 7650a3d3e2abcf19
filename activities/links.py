"""The check-in page and QR code staff show at the venue: public addresses signed with the
app's secret (anyone holding the link sees the code, as anyone in the room does; nobody can
enumerate other activities' codes)."""
from __future__ import annotations

import hashlib
import hmac
import io

from activities.models import Activity


def signature(config, activity: Activity) -> str:
    secret = str(config.get("SECRET_KEY") or "")
    message = f"activity-checkin:{activity.id}:{activity.checkin_code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:20]


def signature_ok(config, activity: Activity, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), signature(config, activity))


def checkin_page_url(config, activity: Activity) -> str:
    return f"{config['PUBLIC_BASE_URL']}/activities/{activity.id}/checkin?s={signature(config, activity)}"


def qr_image_url(config, activity: Activity) -> str | None:
    """The QR code as a PNG (LINE image messages need JPEG/PNG); None without LINE_BASIC_ID."""
    if not config.get("LINE_BASIC_ID"):
        return None
    return f"{config['PUBLIC_BASE_URL']}/activities/{activity.id}/qr.png?s={signature(config, activity)}"


def qr_png(link: str, *, scale: int = 10) -> bytes:
    """segno renders the QR code itself (pure Python, PNG without Pillow)."""
    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(link: str, *, scale: int = 8) -> str:
    import segno

    return segno.make(link, error="m").svg_inline(scale=scale, border=2)
