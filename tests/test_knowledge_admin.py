"""The editable knowledge base: seeded from the YAML, edited by admins, served at once; flags on bot answers."""
import pytest

import knowledge
import migrations
import models
from app import create_app
from escalation import assess
from escalation.knowledge_base import Entry, knowledge_base, load_entries
from models import AnswerFlag, AuditLog, ChatSession, KnowledgeEntry, Message
from starlette.testclient import TestClient

from tests.conftest import ON_POSTGRES, Browser, Workers, login

GOOD = {"country": "ie", "topic": "visa-fee", "title": "Irish study visa fee", "skill": "general",
        "questions": "irish visa fee?\nhow much to apply for an ireland study visa", "keywords": "ireland, fee",
        "answer": "The Irish long-stay study visa costs EUR 100.", "source": "https://www.irishimmigration.ie/fees",
        "checked": "2025-10"}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, settings):
    if request.param == "sqlite" and ON_POSTGRES:
        pytest.skip("the suite runs on PostgreSQL: the [postgresql] case covers it")
    if request.param == "postgresql":
        settings = settings.__class__(**{**settings.__dict__, "database_url": request.getfixturevalue("postgres_url")})
    return Workers(settings) if settings.redis_url else create_app(settings)


def signed_in(app, agent_id: str):
    browser = login(app, agent_id)
    yield browser
    browser.client.__exit__(None, None, None)


@pytest.fixture
def admin(any_app):
    yield from signed_in(any_app, "agent_001")


@pytest.fixture
def counsellor(any_app):
    yield from signed_in(any_app, "agent_002")


@pytest.fixture
def guest(any_app):
    with TestClient(any_app) as client:
        browser = Browser(client)
        browser.get("/")
        yield browser


def served_pair() -> tuple[Entry, str]:
    """A shipped entry that retrieval serves for one of its own sample questions, and that question."""
    return next((e, q) for e in load_entries() for q in e.questions if assess(q).topic == e.id)


def valid(row: KnowledgeEntry, **change) -> dict:
    """The entry's form, with a source and month where the shipped entry has none yet."""
    fields = {k: getattr(row, k) for k in KnowledgeEntry.FIELDS}
    return {**fields, "source": row.source or GOOD["source"], "checked": row.checked or GOOD["checked"],
            "revision": row.revision, **change}


def test_a_new_database_serves_the_shipped_entries(any_app):
    shipped = {e.id for e in load_entries()}
    assert {row.id for row in KnowledgeEntry.select()} == shipped
    assert {e.id for e in knowledge_base().entries} == shipped and knowledge.installed == KnowledgeEntry.version()


def test_an_edit_is_served_to_the_next_visitor(admin, guest):
    entry, question = served_pair()
    row = KnowledgeEntry.get_by_id(entry.id)
    response = admin.post(f"/agent/admin/knowledge/{entry.id}", valid(row, answer="Fresh facts, edited."),
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("?saved=saved")
    guest.say(question)
    bot = Message.select().where(Message.sender == "bot").order_by(Message.id.desc()).first()
    assert bot.text.startswith("Fresh facts, edited. (as of ") and bot.entry == entry.id
    audit = AuditLog.get(AuditLog.action == "kb_update")
    assert (audit.agent.agent_id, audit.subject) == ("agent_001", entry.id) and "answer" in audit.detail


@pytest.mark.parametrize("change, problem", [
    ({"country": "xx"}, "Choose the destination"), ({"topic": "Visa Fee"}, "lowercase words"),
    ({"title": ""}, "title of 1 to 200"), ({"skill": "sales"}, "Choose the team"),
    ({"questions": " \n "}, "sample questions"), ({"answer": ""}, "1 to 2000"), ({"answer": "x" * 2001}, "1 to 2000"),
    ({"source": "javascript:alert(1)"}, "official page"), ({"source": "gov.uk"}, "official page"),
    ({"source": "https://gov.uk/" + "x" * 500}, "official page"),
    ({"checked": "2025-13"}, "YYYY-MM"), ({"checked": "2999-01"}, "not in the future"),
    ({"keywords": ",".join(["k"] * 41)}, "Keywords"),
])
def test_a_bad_edit_says_why_and_changes_nothing(admin, change, problem):
    row = KnowledgeEntry.select().order_by(KnowledgeEntry.id).first()
    response = admin.post(f"/agent/admin/knowledge/{row.id}", {**valid(row), **change})
    assert response.status_code == 400 and problem in response.text
    assert KnowledgeEntry.get_by_id(row.id).revision == row.revision
    assert not AuditLog.select().where(AuditLog.action.startswith("kb_")).exists()


def test_an_edit_of_an_older_revision_is_refused(admin):
    row = KnowledgeEntry.select().order_by(KnowledgeEntry.id).first()
    admin.post(f"/agent/admin/knowledge/{row.id}", valid(row, title="First edit"))
    response = admin.post(f"/agent/admin/knowledge/{row.id}", valid(row, title="Second edit"))
    assert response.status_code == 409 and "nothing was saved" in response.text
    assert KnowledgeEntry.get_by_id(row.id).title == "First edit"
    assert "Your changes, not saved" in response.text and "Second edit" in response.text  # to copy, not retype


def test_retire_and_restore(admin):
    entry, _ = served_pair()
    revision = KnowledgeEntry.get_by_id(entry.id).revision
    admin.post(f"/agent/admin/knowledge/{entry.id}/retire", {"revision": revision})
    assert knowledge_base().get(entry.id) is None
    admin.post(f"/agent/admin/knowledge/{entry.id}/restore", {"revision": revision + 1})
    assert knowledge_base().get(entry.id) is not None
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)][-2:] == ["kb_retire", "kb_restore"]


def test_add_an_entry(admin):
    response = admin.post("/agent/admin/knowledge", {**GOOD, "id": "ie-visa-fee-test"}, follow_redirects=False)
    assert response.status_code == 303
    assert knowledge_base().get("ie-visa-fee-test").questions == ("irish visa fee?",
                                                                  "how much to apply for an ireland study visa")
    again = admin.post("/agent/admin/knowledge", {**GOOD, "id": "ie-visa-fee-test"})
    assert again.status_code == 400 and "already an entry" in again.text


def test_the_list_groups_by_destination_and_searches(admin):
    admin.post("/agent/admin/knowledge", {**GOOD, "id": "ie-visa-fee-test"})
    page = admin.get("/agent/admin/knowledge").text
    assert 'data-country="ie"' in page and 'data-entry-id="ie-visa-fee-test"' in page
    found = admin.get("/agent/admin/knowledge", params={"q": "EUR 100"}).text
    assert found.count("data-entry-id=") == 1 and 'data-entry-id="ie-visa-fee-test"' in found
    assert "No entries match" in admin.get("/agent/admin/knowledge", params={"q": "zzzz-nothing"}).text


def test_what_an_admin_writes_is_escaped(admin):
    admin.post("/agent/admin/knowledge", {**GOOD, "id": "ie-escape", "title": "<b>t</b>", "answer": "<script>x</script>"})
    assert "<script>x</script>" not in admin.get("/agent/admin/knowledge/ie-escape").text
    assert "<b>t</b>" not in admin.get("/agent/admin/knowledge").text


@pytest.mark.parametrize("path", ["/agent/admin/knowledge", "/agent/admin/knowledge/new", "/agent/admin/flags"])
def test_knowledge_pages_are_for_admins(counsellor, path):
    assert counsellor.get(path).status_code == 403
    assert counsellor.post("/agent/admin/knowledge", {**GOOD, "id": "ie-sneaky"}).status_code == 403
    assert KnowledgeEntry.get_or_none(KnowledgeEntry.id == "ie-sneaky") is None


def test_a_post_without_the_csrf_token_changes_nothing(admin):
    row = KnowledgeEntry.select().order_by(KnowledgeEntry.id).first()
    response = admin.client.post(f"/agent/admin/knowledge/{row.id}", data=valid(row, title="Forged"))
    assert response.status_code == 403 and KnowledgeEntry.get_by_id(row.id).title == row.title


def test_another_worker_serves_a_change_after_a_refresh(any_app):
    entry, _ = served_pair()
    KnowledgeEntry.update(answer="Changed elsewhere.", revision=KnowledgeEntry.revision + 1).where(
        KnowledgeEntry.id == entry.id).execute()
    assert knowledge_base().get(entry.id).answer != "Changed elsewhere."
    assert knowledge.refresh() and knowledge_base().get(entry.id).answer == "Changed elsewhere."
    assert not knowledge.refresh()


def test_seeding_follows_new_defaults_but_keeps_admin_changes(any_app):
    rows = list(KnowledgeEntry.select().order_by(KnowledgeEntry.id).limit(3))
    KnowledgeEntry.update(answer="Admin's words.", updated_by=1).where(KnowledgeEntry.id == rows[0].id).execute()
    shipped = [Entry(r.id, r.title, "New default.", r.skill, tuple(r.question_list), (), r.country, r.topic)
               for r in rows[:2]]
    knowledge.seed(shipped + [Entry("zz-new", "New", "Shipped later.", "general", ("q",), ())])
    answers = {r.id: (r.answer, r.retired) for r in KnowledgeEntry.select()}
    assert answers[rows[0].id] == ("Admin's words.", False) and answers[rows[1].id] == ("New default.", False)
    assert answers[rows[2].id][1] and answers["zz-new"] == ("Shipped later.", False)


def test_an_older_database_gains_the_new_table_and_columns(settings):
    create_app(settings)
    migrator = migrations.SchemaMigrator.from_database(models.db)
    migrations.migrate(migrator.drop_column("message", "entry"), migrator.drop_column("message", "choices"))
    models.db.drop_tables([KnowledgeEntry, AnswerFlag])
    create_app(settings)
    assert {"entry", "choices"} <= {c.name for c in models.db.get_columns("message")}
    assert KnowledgeEntry.select().count() == len(load_entries())


def bot_answer(chat=None, entry: str | None = None, choices: str | None = None) -> Message:
    chat = chat or ChatSession.create()
    return Message.add(chat, "bot", "Some answer.", entry=entry or KnowledgeEntry.select().order_by(KnowledgeEntry.id).first().id,
                       choices=choices)[0]


def test_the_transcript_shows_the_source_and_month(admin):
    row = KnowledgeEntry.select().order_by(KnowledgeEntry.id).first()
    admin.post(f"/agent/admin/knowledge/{row.id}", valid(row, source="https://www.gov.uk/x", checked="2025-10"))
    message = bot_answer(ChatSession.create(status="assigned", agent=1), entry=row.id)
    html = admin.get("/agent/dashboard").text
    assert 'href="https://www.gov.uk/x"' in html and "as of October 2025" in html
    assert f'action="/agent/messages/{message.id}/flag"' in html


def test_an_agent_flags_an_answer_and_an_admin_handles_it(admin):
    message = bot_answer(ChatSession.create(status="assigned", agent=1))
    response = admin.post(f"/agent/messages/{message.id}/flag", {"comment": "<i>wrong fee</i>"},
                          headers={"HX-Request": "true"})
    assert response.status_code == 201 and "Flagged" in response.text
    page = admin.get("/agent/admin/flags").text
    assert "&lt;i&gt;wrong fee&lt;/i&gt;" in page and message.entry in page and "Sarah Johnson" in page
    flag = AnswerFlag.get()
    admin.post(f"/agent/admin/flags/{flag.id}/handled")
    assert AnswerFlag.get().handled_by.agent_id == "agent_001" and not AnswerFlag.listing().exists()
    assert [a.action for a in AuditLog.select().where(AuditLog.action.startswith("flag_"))] == [
        "flag_add", "flag_handled"]


@pytest.mark.parametrize("mine, sender, status", [(False, "bot", 404), (True, "visitor", 400)])
def test_agents_flag_only_bot_answers_in_their_own_chats(counsellor, mine, sender, status):
    chat = ChatSession.create(status="assigned", agent=2 if mine else 3)
    message = Message.add(chat, sender, "text", entry="x")[0]
    assert counsellor.post(f"/agent/messages/{message.id}/flag").status_code == status
    assert not AnswerFlag.select().exists()


def test_the_visitor_gets_destination_buttons_under_the_newest_answer(visitor):
    visitor.say("hello there")
    chat = ChatSession.get()
    message = bot_answer(chat, choices="uk,ca,zz")
    html = visitor.get("/").text
    assert html.count(f'name="client_key" value="choice-{message.id}"') == 2  # uk and ca; an unknown code offers nothing
    assert 'value="United Kingdom"' in html and 'value="Canada"' in html


def test_a_destination_button_works_without_script(visitor):
    visitor.say("hello there")
    message = bot_answer(ChatSession.get(), choices="ca")
    response = visitor.post("/chat/messages", {"text": "Canada", "client_key": f"choice-{message.id}"},
                            headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/#latest"
    assert Message.select().where(Message.sender == "visitor", Message.text == "Canada").count() == 1
