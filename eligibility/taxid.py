"""統一編號 (Taiwan business ID) check, Ministry of Finance checksum.

Weights 1,2,1,2,1,2,4,1; add the digits of each product; valid when the sum is
divisible by 5 (財政部 rule since 2023; it was 10 before, and every number valid
under the old rule stays valid), or, when the 7th digit is 7 (7×4=28, whose digit
sum 10 may count as 1 or 0), when sum+1 is divisible by 5.
"""
from __future__ import annotations

_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def normalize_tax_id(text: object) -> str:
    """Full-width digits to ASCII, surrounding and inner spaces removed."""
    return "".join(str(text).translate(_FULLWIDTH).split())


def _checksum_ok(digits: str) -> bool:
    total = sum(p // 10 + p % 10 for p in (int(d) * w for d, w in zip(digits, _WEIGHTS)))
    return total % 5 == 0 or (digits[6] == "7" and (total + 1) % 5 == 0)


def tax_id_problem(text: object) -> str | None:
    """None when valid, else a short zh-TW explanation for the owner."""
    if text is None or not normalize_tax_id(text):
        return "請輸入統一編號（8 位數字）。"
    value = normalize_tax_id(text)
    if not value.isascii() or not value.isdigit():
        return "統一編號只能是數字（不要有英文字母或符號），請再核對一次。"
    if len(value) != 8:
        return f"統一編號是 8 位數字，您輸入的是 {len(value)} 位，請再核對一次。"
    if not _checksum_ok(value):
        return "這組統一編號的檢查碼不對，可能有一碼打錯，請再核對一次。"
    return None


def is_valid_tax_id(text: object) -> bool:
    return tax_id_problem(text) is None
