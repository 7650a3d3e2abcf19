"""All zh-TW copy lives here, as named templates: ``bot/texts/<namespace>.yaml``.

``t("core.welcome", name="小明")`` looks up key ``welcome`` in ``core.yaml`` and fills
``{name}``. Each domain owns its own YAML file, so copy stays in one place without teams editing
the same file. A missing key is a programming error and raises KeyError (tests load every key).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

TEXTS_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _namespace(name: str) -> dict[str, str]:
    path = TEXTS_DIR / f"{name}.yaml"
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return {str(k): str(v).rstrip("\n") for k, v in data.items()}


def t(key: str, /, **values: object) -> str:
    namespace, _, name = key.partition(".")
    template = _namespace(namespace)[name]
    return template.format(**values) if values else template


def all_keys() -> dict[str, str]:
    keys = {}
    for path in sorted(TEXTS_DIR.glob("*.yaml")):
        for name, text in _namespace(path.stem).items():
            keys[f"{path.stem}.{name}"] = text
    return keys
