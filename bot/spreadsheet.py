"""CSV and .xlsx for the spreadsheets the programme office and staff open: Excel on Windows, in
Taiwan.

One writer per format for every export (letters, companies, visits, 我的資料, the evidence pack)
so they all open the same way and are all safe to open."""
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


# Excel's limits for a sheet name: 31 characters, none of these.
_SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_name(text: str, taken: set[str]) -> str:
    """A valid, unique sheet name for ``text`` (added to ``taken``)."""
    base = (str(text).translate(_SHEET_NAME_FORBIDDEN).strip("'") or "Sheet")[:31]
    name, n = base, 1
    while name.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f"~{n}"
        name = base[:31 - len(suffix)] + suffix
    taken.add(name)
    return name


def spreadsheet_xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]]) -> bytes:
    """An .xlsx workbook (openpyxl) of (sheet name, header, rows). Every text cell is stored as
    text, never as a formula: openpyxl would otherwise write "=HYPERLINK(...)" typed as a company
    name as a live formula (the CSV writer's guard, without the apostrophe Excel would show)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)

    def cell(sheet, value, font=None):
        value = "" if value is None else value
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"
        if font is not None:
            written.font = font
        return written

    for name, header, rows in sheets or [("Sheet", (), ())]:
        sheet = workbook.create_sheet(sheet_name(name, taken))
        sheet.freeze_panes = "A2"
        sheet.append([cell(sheet, title, bold) for title in header])
        for row in rows:
            sheet.append([cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
