"""Create a domain's Alembic revision holding only its own tables.

    .venv/bin/python tools/new_migration.py --domain letters --rev 0003_letters \\
        --tables letters,letter_events --message "letters of intent"

Each domain has its own branch (branch label = domain) starting from 0002_companies, so teams
never fight over a single linear chain; ``flask --app bot init-db`` upgrades to all heads. A later
revision in the same domain: pass --head <domain>@head (default for an existing branch).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from bot.db import alembic_config, upgrade_schema


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domain", required=True)
    parser.add_argument("--rev", required=True)
    parser.add_argument("--tables", required=True, help="comma-separated table names")
    parser.add_argument("--message", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'schema.db'}"
        upgrade_schema(url)
        config = alembic_config(url)
        config.set_main_option("only_tables", args.tables)
        script = ScriptDirectory.from_config(config)
        has_branch = any(args.domain in (rev.branch_labels or ()) for rev in script.walk_revisions())
        command.revision(config, message=args.message, autogenerate=True, rev_id=args.rev, splice=not has_branch,
                         head=f"{args.domain}@head" if has_branch else "0002_companies",
                         branch_label=None if has_branch else args.domain)


if __name__ == "__main__":
    main()
