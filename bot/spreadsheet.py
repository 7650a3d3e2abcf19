"""CSV for the spreadsheets the programme office and staff open: Excel on Windows, in Taiwan.

One writer for every export (letters, companies, visits, 我的資料) so they all open the same way
and are all safe to open."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

# A text cell starting with one of these is run as a formula by Excel and LibreOffice (CSV
# injection, OWASP): "=HYPERLINK(...)" typed as a company name or a visit note would run on a
# staff member's computer. A leading apostrophe makes the spreadsheet show it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A cell as written: numbers as they are, text that could start a formula quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def spreadsheet_csv(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = True) -> str:
    """CSV text: a UTF-8 BOM (without it Excel reads the Chinese as Big5 and shows garbage), CRLF
    line ends, every cell through ``spreadsheet_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_cell(value) for value in row] for row in rows)
    return ("\ufeff" if bom else "") + buffer.getvalue()
