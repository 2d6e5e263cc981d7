"""What the attack tests share: every route of the app, a database fingerprint, chats in each state."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import uuid

import pytest
from starlette.routing import Mount, Route

import models
from models import ChatSession
from tests.conftest import PASSWORD, Server

# A plausible body for any form in the app, so a check that let a request through would show as a change.
FORM = {"text": "hijacked", "note": "hijacked", "agent_id": "agent_002", "score": "5", "comment": "hijacked",
        "status": "away", "password": PASSWORD, "current_password": PASSWORD,
        "new_password": "hijacked-password", "confirm_password": "hijacked-password", "client_key": "k1"}


def all_routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, Mounts opened, static files left out."""
    found = []

    def walk(routes, prefix=""):
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes or [], prefix + route.path)
            elif isinstance(route, Route):
                found.append((prefix + route.path, set(route.methods or [])))

    walk(app.routes)
    return found


def concrete(path: str, chat_id: int) -> str:
    """The path with every parameter filled: ints with the chat's id, the rest with a real agent id."""
    return re.sub(r"\{[^}:]+:int\}", str(chat_id), re.sub(r"\{[^}:]+(:str|:path)?\}", "agent_001", path))


def unsafe_paths(app, chat_id: int) -> list[str]:
    return [concrete(p, chat_id) for p, methods in all_routes(app) if methods & {"POST", "PUT", "PATCH", "DELETE"}]


def fingerprint() -> dict[str, str]:
    """A digest of every row of every table: any write at all changes it."""
    db = models.db
    digests = {}
    for table in db.get_tables():
        rows = db.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
        digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


@pytest.fixture
def settings(settings):
    """Chats stay where the test puts them: no routing hands a waiting chat to a signed-in agent."""
    return dataclasses.replace(settings, auto_assign=False)


@pytest.fixture
def waiting_chat(visitor) -> ChatSession:
    visitor.say("My passport number is X1234567 and my visa was refused")
    visitor.post("/chat/handoff")
    return ChatSession.get(ChatSession.status == "waiting")


@pytest.fixture
def assigned_chat(waiting_chat, agent) -> ChatSession:
    assert agent.post(f"/agent/sessions/{waiting_chat.id}/take").status_code == 200
    return ChatSession.get_by_id(waiting_chat.id)


def serve(request, tmp_path, **env) -> tuple[Server, str]:
    """One process on SQLite, or two workers on PostgreSQL + Redis, as the fixture's param says; with its database."""
    if request.param == "sqlite":
        return Server(tmp_path, **env).start(), f"sqlite:///{tmp_path}/live.db"
    url, redis = request.getfixturevalue("postgres_url"), os.environ.get("HANDOFF_TEST_REDIS_URL")
    if not redis:
        pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    server = Server(tmp_path, HANDOFF_DATABASE_URL=url, HANDOFF_REDIS_URL=redis,
                    HANDOFF_REDIS_PREFIX=f"handoff-test-{uuid.uuid4().hex[:8]}:", **env).start(workers=2)
    return server, url
