"""Upgrading an existing database: missing columns are added, numbered steps run once."""
import pytest

import migrations
import models
from app import create_app
from models import Agent, ChatSession, Message
from tests.conftest import ON_POSTGRES


def old_schema(settings, drop: dict[str, str]):
    """A database as an older release left it: tables with some columns missing, and data."""
    create_app(settings)
    chat = ChatSession.create(status="bot")
    Message.add(chat, "visitor", "hello from before")
    for table, column in drop.items():
        migrations.migrate(migrations.SchemaMigrator.from_database(models.db).drop_column(table, column))
    return chat


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request, settings):
    if request.param == "sqlite" and ON_POSTGRES:
        pytest.skip("the suite runs on PostgreSQL: the [postgresql] case covers it")
    if request.param == "sqlite":
        return settings
    return settings.__class__(**{**settings.__dict__, "database_url": request.getfixturevalue("postgres_url")})


def test_missing_columns_are_added_and_data_kept(any_settings):
    chat = old_schema(any_settings, {"agent": "epoch", "chatsession": "visitor_email", "message": "reason"})
    assert "epoch" not in {c.name for c in models.db.get_columns("agent")}
    create_app(any_settings)
    for model in (Agent, ChatSession, Message):
        live = {c.name for c in models.db.get_columns(model._meta.table_name)}
        assert {f.column_name for f in model._meta.sorted_fields} <= live
    assert {a.epoch for a in Agent.select()} == {0}
    assert [m.text for m in ChatSession.get_by_id(chat.id).visible_messages()] == ["hello from before"]


def test_numbered_steps_run_once_in_order(settings, monkeypatch):
    old_schema(settings, {})
    ran = []
    monkeypatch.setattr(migrations, "STEPS", [lambda m: ran.append(1), lambda m: ran.append(2)])
    migrations.SchemaVersion.update(version=1).execute()
    create_app(settings)
    create_app(settings)
    assert ran == [2] and migrations.SchemaVersion.get().version == 2


def test_a_fresh_database_starts_current(settings, monkeypatch):
    monkeypatch.setattr(migrations, "STEPS", [lambda m: pytest.fail("a new database has nothing to upgrade")])
    create_app(settings)
    assert migrations.SchemaVersion.get().version == 1


def test_a_column_that_cannot_be_filled_stops_the_start(settings, monkeypatch):
    old_schema(settings, {"agent": "epoch"})
    monkeypatch.setattr(Agent.epoch, "default", None)
    with pytest.raises(RuntimeError, match="agent.epoch is NOT NULL without a default"):
        create_app(settings)
