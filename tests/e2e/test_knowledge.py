"""The knowledge base live: an admin's edit reaches the next visitor, in this worker and the others, with no
restart; a question that names no destination gets a button per destination, and the button answers it."""
import os
import time
import uuid

import pytest

from escalation import COUNTRIES, assess
from escalation.knowledge_base import load_entries
from knowledge import _row_fields
from tests.conftest import Server
from tests.e2e.test_browser import send, sign_in
from tests.e2e.test_workers import Person, pinned

playwright = pytest.importorskip("playwright.sync_api")
SOURCE, CHECKED = "https://www.gov.uk/student-visa", "2025-10"
UNSAID = "what does the student visa cost"  # the same question differs by destination


def served_pair():
    """A shipped entry that retrieval serves for one of its own sample questions, and that question."""
    return next((e, q) for e in load_entries() for q in e.questions if assess(q).topic == e.id)


def test_an_admin_edits_an_answer_and_the_next_visitor_gets_it(chromium, live_server):
    expect = playwright.expect
    entry, question = served_pair()
    admin = chromium.new_context().new_page()
    sign_in(admin, live_server.url)
    admin.goto(live_server.url + "/agent/admin/knowledge")
    admin.get_by_label("Search").fill(entry.id)
    admin.get_by_role("button", name="Search").click()
    admin.locator(f'[data-entry-id="{entry.id}"] a').click()
    admin.get_by_label("Answer", exact=True).fill("Edited in the browser: apply online, then book biometrics.")
    for label, value in (("Source (official page)", SOURCE), ("Checked (month)", CHECKED)):
        if not admin.get_by_label(label).input_value():
            admin.get_by_label(label).fill(value)
    admin.get_by_role("button", name="Save entry").click()
    expect(admin.get_by_role("status")).to_contain_text("Visitors get the new text now")

    visitor = chromium.new_context().new_page()
    visitor.goto(live_server.url + "/")
    send(visitor, question)
    expect(visitor.locator('#messages [data-sender="bot"]').last).to_contain_text("Edited in the browser")


def test_a_visitor_chooses_a_destination_and_gets_its_answer(chromium, live_server):
    expect = playwright.expect
    answers = {e.id: " ".join(e.answer.split()) for e in load_entries()}
    visitor = chromium.new_context().new_page()
    visitor.goto(live_server.url + "/")
    send(visitor, UNSAID)
    buttons = visitor.locator('#messages [data-sender="bot"] .choices button')
    expect(buttons.first).to_be_visible()
    offered = buttons.all_inner_texts()
    name = next(n for n in offered for code, full in COUNTRIES.items() if n == full and f"{code}-visa-fee" in answers)
    code = next(c for c, full in COUNTRIES.items() if full == name)
    buttons.get_by_text(name, exact=True).click()
    expect(visitor.locator('#messages [data-sender="visitor"]').last).to_contain_text(name)
    expect(visitor.locator('#messages [data-sender="bot"]').last).to_contain_text(answers[f"{code}-visa-fee"][:60])
    expect(visitor.locator('#messages [data-sender="bot"]').first.locator(".choices")).to_be_hidden()


@pytest.fixture
def workers(tmp_path, postgres_url):
    """Two workers whose own check of the table's version comes only after an hour: only the hub can be quick."""
    redis_url = os.environ.get("HANDOFF_TEST_REDIS_URL") or pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    server = Server(tmp_path, HANDOFF_DATABASE_URL=postgres_url, HANDOFF_REDIS_URL=redis_url,
                    HANDOFF_REDIS_PREFIX=f"handoff-test-{uuid.uuid4().hex[:8]}:", HANDOFF_SWEEP_SECONDS="3600")
    server.start(workers=2)
    yield server
    server.stop()


def test_an_edit_reaches_every_worker_without_a_restart(workers):
    entry, question = served_pair()
    admin = pinned(workers, Person(workers.url, "agent_001"))
    (saver, by_saver), (other, by_other) = admin.items()
    before = by_other.get("/healthz").json()["knowledge"]
    form = {**_row_fields(entry), "source": entry.source or SOURCE, "checked": entry.checked or CHECKED,
            "revision": 1, "answer": "Edited on one worker, served by both."}
    assert by_saver.post(f"/agent/admin/knowledge/{entry.id}", data=form).status_code == 303
    deadline = time.monotonic() + 30  # the other worker hears of it through Redis, long before its hourly check
    while by_other.get("/healthz").json()["knowledge"] == before:
        assert time.monotonic() < deadline, "the other worker never installed the edit"
        time.sleep(0.05)
    for pid, client in pinned(workers, Person(workers.url)).items():
        assert client.post("/chat/messages", data={"text": question}).status_code == 201
        assert "Edited on one worker, served by both." in client.get("/").text, pid
