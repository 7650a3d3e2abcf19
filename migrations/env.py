"""Alembic environment. Each domain keeps its own branch (branch_labels) off the core revision,
so teams add tables without fighting over one linear chain; ``init-db`` upgrades to all heads."""
from alembic import context
from sqlmodel import SQLModel

from bot.db import import_all_models, make_engine

import_all_models()
target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=False)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
