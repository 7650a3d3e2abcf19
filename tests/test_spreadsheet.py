"""Every CSV export goes through bot.spreadsheet: Excel opens the Chinese, and nothing a person
typed runs as a formula on a staff member's computer."""
import csv
import io

from bot.spreadsheet import spreadsheet_csv
from tests.test_visits import _advisor


def _rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_text_that_would_be_a_formula_is_written_as_text():
    text = spreadsheet_csv(["name", "note", "count"], [
        ["=HYPERLINK(\"http://evil\",\"點我\")", "+886 2 1234 5678", 3],
        ["@SUM(A1)", "-2+3", -4],
        ["\tTAB", "好味道小吃", None],
    ])
    assert "\r\n" in text
    rows = _rows(text)
    assert rows[0] == ["name", "note", "count"]
    assert rows[1] == ["'=HYPERLINK(\"http://evil\",\"點我\")", "'+886 2 1234 5678", "3"]
    assert rows[2] == ["'@SUM(A1)", "'-2+3", "-4"]  # numbers are numbers, only text is quoted
    assert rows[3] == ["'\tTAB", "好味道小吃", ""]
    assert not spreadsheet_csv(["a"], [], bom=False).startswith("\ufeff")


def test_a_visit_note_typed_as_a_formula_is_exported_as_text(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 112/3/10 14:00 =1+1 1.5小時")
    result = app.test_cli_runner().invoke(args=["export", "visits", "--format", "csv"])
    assert result.exit_code == 0, result.output
    [header, row] = _rows(result.output)
    cells = dict(zip(header, row))
    assert cells["company_name"] == "好味道小吃"
    assert cells["topics"].startswith("'=") or cells["notes"].startswith("'=")
