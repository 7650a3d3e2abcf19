"""zh-TW copy: every key the code asks for exists, and every template formats and fits LINE."""
import re
import string
from pathlib import Path

from bot.texts import all_keys

REPO = Path(__file__).resolve().parent.parent
CODE_DIRS = ("bot", "dialogs", "eligibility", "knowledge", "letters", "visits", "broadcasts", "scheduler",
             "staff", "privacy", "companies", "adoption", "checkpoints", "replacements", "activities",
             "assessments", "checkup", "kpis")
KEY_USE = re.compile(r"""\bt\(\s*["']([a-z_]+\.[A-Za-z0-9_]+)["']""")


def test_every_literal_key_used_in_code_exists():
    keys = all_keys()
    missing = []
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            for key in KEY_USE.findall(path.read_text(encoding="utf-8")):
                if key not in keys:
                    missing.append(f"{path.relative_to(REPO)}: {key}")
    assert missing == []


def test_templates_are_well_formed_and_phone_sized():
    for key, text in all_keys().items():
        list(string.Formatter().parse(text))  # raises on a broken {placeholder}
        assert len(text) <= 1200, f"{key} is too long for a phone screen"


def test_no_unquoted_value_is_cut_short_by_a_yaml_comment():
    """In YAML, " #" starts a comment in an unquoted value: 「已取消公告 #{id}…」 became 「已取消公告」."""
    from bot.texts import TEXTS_DIR

    keys = all_keys()
    plain = re.compile(r"""^([A-Za-z0-9_]+):[ \t]+(?![|>"'])(.*\S)\s*$""")
    cut = []
    for path in sorted(TEXTS_DIR.glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = plain.match(line)
            if match and " #" in match.group(2):
                key = f"{path.stem}.{match.group(1)}"
                if keys.get(key) != match.group(2):
                    cut.append(f"{key}: {keys.get(key)!r}")
    assert cut == []
