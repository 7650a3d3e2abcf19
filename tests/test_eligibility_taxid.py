"""統一編號 checksum (財政部: weights 1,2,1,2,1,2,4,1; divisible by 5; 7th-digit-7 case)."""
import pytest

from eligibility.taxid import is_valid_tax_id, normalize_tax_id, tax_id_problem


@pytest.mark.parametrize("tax_id", [
    "21556433", "44432023", "81496408", "65639967",  # ordinary numbers
    "04595257", "04595252",  # valid only under the 2023 "divisible by 5" rule
    "10458575",              # 7th digit 7, sum divisible by 5
    "10458574",              # 7th digit 7, sum + 1 divisible by 5
    "２１５５６４３３",        # full-width digits
    " 21556433 ",
])
def test_valid(tax_id):
    assert is_valid_tax_id(tax_id)
    assert tax_id_problem(tax_id) is None


@pytest.mark.parametrize("tax_id, fragment", [
    ("15322452", "檢查碼"),
    ("10458576", "檢查碼"),   # 7th digit 7 but neither sum nor sum+1 fits
    ("21556434", "檢查碼"),
    ("1234-567", "只能是數字"),
    ("A2345678", "只能是數字"),
    ("2155643", "8 位"),
    ("215564330", "8 位"),
    ("", "請輸入"),
    (None, "請輸入"),
])
def test_invalid_with_clear_message(tax_id, fragment):
    assert not is_valid_tax_id(tax_id)
    problem = tax_id_problem(tax_id)
    assert fragment in problem
    if tax_id:
        assert "請再核對一次" in problem


def test_normalize():
    assert normalize_tax_id("２１５５ ６４３３") == "21556433"
