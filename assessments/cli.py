"""``flask --app bot assessments import FILE [--test pretest|posttest]`` (the programme office's
list of companies that completed a test, by 統編) and ``assessments status``."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from bot.cli import emit, json_option

assessments_cli = AppGroup("assessments", help="數位能力評量 前測／後測 (002 捌 四 (七)).")


def _read(file: Path) -> str:
    raw = file.read_bytes()
    for encoding in ("utf-8-sig", "cp950", "big5"):  # Excel in Taiwan often saves Big5
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise click.ClickException("cannot read the file: save it as a UTF-8 CSV")


@assessments_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--test", "test", default=None, help="pretest or posttest, when the file has no test column")
@click.option("--program", "program_id", default="gonghao-2023", show_default=True)
@json_option
def import_command(file: Path, test: str | None, program_id: str, as_json: bool) -> None:
    """Mark the companies on the office's list (統一編號, optional test and date columns) as done."""
    from assessments import service
    from assessments.settings import tests_of

    known = tuple(tests_of(current_app.config, program_id))
    if test is not None and test not in known:
        raise click.BadParameter(f"unknown test {test}; known: {', '.join(known) or 'none'}", param_hint="--test")
    database = current_app.extensions["bot"].database
    try:
        with database.write_session() as session:
            report = service.import_list(session, text=_read(file), program_id=program_id, test=test, actor="cli",
                                         known_tests=known)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    lines = [f"{report.imported} imported, {len(report.duplicates)} duplicates, {len(report.unknown)} unknown 統編, "
             f"{len(report.invalid)} invalid rows."]
    lines += [f"  line {line}: {tax_id} is not a company of {program_id}" for line, tax_id in report.unknown]
    lines += [f"  line {line}: {tax_id} {why}" for line, tax_id, why in report.duplicates]
    lines += [f"  line {line}: {text!r} {why}" for line, text, why in report.invalid]
    emit(as_json, report.as_dict(), "\n".join(lines))


@assessments_cli.command("status")
@click.option("--program", "program_id", default="gonghao-2023", show_default=True)
@json_option
def status_command(program_id: str, as_json: bool) -> None:
    """Per test: signed companies, how many completed, who is missing."""
    from sqlmodel import select

    from assessments import service
    from assessments.settings import tests_of
    from companies.models import Company

    with current_app.extensions["bot"].database.read_session() as session:
        companies = list(session.exec(select(Company).where(
            Company.program_id == program_id, Company.status == "active", Company.letter_status == "signed")
            .order_by(Company.id)).all())
        found = service.completions(session, company_ids=[c.id for c in companies])
    payload, lines = {"program": program_id, "tests": []}, []
    for test in tests_of(current_app.config, program_id).values():
        missing = [{"id": c.id, "name": c.name, "tax_id": c.tax_id} for c in companies if (c.id, test.id) not in found]
        payload["tests"].append({"test": test.id, "title": test.title, "companies": len(companies),
                                 "completed": len(companies) - len(missing), "missing": missing})
        lines.append(f"{test.title}: {len(companies) - len(missing)} of {len(companies)} companies done.")
    emit(as_json, payload, "\n".join(lines) or "No tests in the campaign data.")


def init_cli(app) -> None:
    app.cli.add_command(assessments_cli)
