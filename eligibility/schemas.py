"""Validation of `POST /api/eligibility` bodies (pydantic v2).

The answer models are built from each programme's `eligibility.fields` in
programs.yaml, so a new choice (say, a new prior-funding key next year) is a
data change. Errors come back as `{"field", "message_zh", "message_en"}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt,
                      StrictStr, ValidationError, create_model)
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from .engine import ProgramRules
from .taxid import normalize_tax_id, tax_id_problem


def _check_tax_id(value: str) -> str:
    problem = tax_id_problem(value)
    if problem:
        raise PydanticCustomError("tax_id", problem)
    return normalize_tax_id(value)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "不能是空白")
    return value.strip()


TaxId = Annotated[StrictStr, AfterValidator(_check_tax_id)]
Text = Annotated[StrictStr, AfterValidator(_not_blank)]


def _python_type(spec: Mapping[str, Any], where: str) -> Any:
    kind = spec.get("type")
    if kind == "choice":
        return Literal[tuple(spec["choices"])]
    if kind == "multi_choice":
        return list[Literal[tuple(spec["choices"])]]
    if kind == "integer":
        return Annotated[StrictInt, Field(ge=spec.get("min", 0))]
    if kind == "boolean":
        return StrictBool
    if kind == "text":
        return Text
    if kind == "tax_id":
        return TaxId
    if kind == "roster":
        return list[_model(f"{where}Member", spec.get("member_fields") or {})]
    raise ValueError(f"{where}: unknown field type {kind!r}")


def _model(name: str, fields: Mapping[str, Mapping[str, Any]]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for fname, spec in fields.items():
        typ = _python_type(spec, f"{name}.{fname}")
        definitions[fname] = (typ, ...) if spec.get("required") else (Optional[typ], None)
    # Unknown keys are ignored: older/newer clients may send extra answers.
    return create_model(name, __config__=ConfigDict(extra="ignore"), **definitions)


_MODELS: dict[int, tuple[ProgramRules, type[BaseModel]]] = {}


def answers_model(program: ProgramRules) -> type[BaseModel]:
    cached = _MODELS.get(id(program))
    if cached is None or cached[0] is not program:
        cached = (program, _model("Answers", program.fields))
        _MODELS[id(program)] = cached
    return cached[1]


# --- errors -----------------------------------------------------------------------

def _spec(program: ProgramRules, loc: tuple) -> Mapping[str, Any]:
    specs: Mapping[str, Any] = program.fields
    found: Mapping[str, Any] = {}
    for part in loc:
        if isinstance(part, str) and part in specs:
            found = specs[part]
            specs = found.get("member_fields") or {}
    return found


def _label(program: ProgramRules, loc: tuple) -> str:
    return _spec(program, loc).get("label") or "這一欄"


def _field_path(loc: tuple) -> str:
    path = "answers"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _messages(program: ProgramRules, err: Mapping[str, Any]) -> tuple[str, str]:
    label = _label(program, err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"缺少「{label}」。", "field required"
    if kind == "literal_error":
        choices = _spec(program, err["loc"]).get("choices") or {}
        listed = "、".join(f"{k}（{v}）" for k, v in choices.items()) or ctx.get("expected", "")
        return (f"「{label}」只能是：{listed}。",
                f"must be one of {ctx.get('expected', '')}")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"「{label}」要填整數。", "must be an integer"
    if kind == "greater_than_equal":
        ge = ctx.get("ge", 0)
        zh = f"「{label}」不能是負數。" if ge == 0 else f"「{label}」不能小於 {ge}。"
        return zh, f"must be >= {ge}"
    if kind == "bool_type":
        return f"「{label}」要填是或否（true / false）。", "must be true or false"
    if kind == "list_type":
        return f"「{label}」要是清單。", "must be a list"
    if kind in ("string_type", "blank"):
        return f"「{label}」要填文字。", "must be a non-empty string"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"「{label}」格式不對。", "must be an object"
    if kind == "tax_id":
        return err["msg"], "invalid tax ID (統一編號): not 8 digits or checksum fails"
    return f"「{label}」格式不對。", err.get("msg", "invalid value")


def field_error(field_name: str, message_zh: str, message_en: str) -> dict[str, str]:
    return {"field": field_name, "message_zh": message_zh, "message_en": message_en}


@dataclass
class CheckedRequest:
    program: ProgramRules | None
    answers: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_answers(*, program: ProgramRules, answers: Any) -> CheckedRequest:
    if not isinstance(answers, Mapping):
        return CheckedRequest(program, errors=[field_error(
            "answers", "「answers」要是一個物件。", "answers must be an object")])
    try:
        parsed = answers_model(program).model_validate(dict(answers))
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            zh, en = _messages(program, err)
            errors.append(field_error(_field_path(err["loc"]), zh, en))
        return CheckedRequest(program, errors=errors)
    # exclude_unset: absent answers stay absent so the engine applies the data's defaults
    return CheckedRequest(program, answers=parsed.model_dump(exclude_unset=True))


def check_request(*, body: Any, programs: Mapping[str, ProgramRules]) -> CheckedRequest:
    """Validate `{"program": ID, "answers": {...}}`; errors list every bad field."""
    if not isinstance(body, Mapping):
        return CheckedRequest(None, errors=[field_error(
            "body", "內容要是 JSON 物件：{\"program\": ..., \"answers\": {...}}。",
            "body must be a JSON object with program and answers")])
    program_id = body.get("program")
    program = programs.get(program_id) if isinstance(program_id, str) else None
    errors = []
    if program is None:
        known = "、".join(programs)
        what = "缺少計畫代碼" if program_id is None else f"沒有這個計畫：{program_id}"
        errors.append(field_error("program", f"{what}（可用：{known}）。",
                                  f"unknown program {program_id!r}; known: {', '.join(programs)}"))
    if "answers" not in body:
        errors.append(field_error("answers", "缺少「answers」。", "answers required"))
    if errors or program is None:
        return CheckedRequest(program, errors=errors)
    return validate_answers(program=program, answers=body["answers"])
