"""The visitor's routes."""
import pytest

import conversation
from models import ChatSession, Message


def test_chat_page_has_the_contract(visitor):
    html = visitor.get("/").text
    for part in ('<meta name="csrf-token"', ">Message</label>", ">Send</button>", "Talk to a human",
                 "/static/vendor/htmx.min.js"):
        assert part in html
    assert "hx-sse:connect" not in html  # no chat yet, so nothing to stream
    first = visitor.say("Hello")
    assert first.status_code == 201 and first.headers["x-chat-started"] == "true"  # the page's script connects
    assert 'hx-sse:connect="/chat/events?after=' in visitor.get("/").text


def test_a_page_view_stores_no_chat(app, visitor):
    for _ in range(5):
        assert visitor.get("/").status_code == 200
    assert visitor.client.post("/chat/typing", headers={"X-CSRF-Token": visitor.token}).status_code == 204
    assert ChatSession.select().count() == 0


@pytest.mark.parametrize("first", ["message", "handoff"])
def test_the_first_message_or_handoff_begins_the_chat(visitor, first):
    response = visitor.say("Hello") if first == "message" else visitor.post("/chat/handoff")
    started = response.headers.get("x-chat-started") if first == "message" else response.headers.get("hx-refresh")
    assert response.status_code in (201, 204) and started == "true"
    chat = ChatSession.get()
    assert chat.status == ("bot" if first == "message" else "waiting")
    assert visitor.say("And another thing").status_code == 201 and ChatSession.select().count() == 1


def test_a_question_gets_a_bot_answer(visitor):
    response = visitor.say("How much does it cost to study in Germany?")
    assert response.status_code == 201
    chat = ChatSession.get()
    senders = [m.sender for m in chat.visible_messages()]
    assert senders == ["visitor", "bot"] and chat.status == "bot"


def test_a_question_in_spanish_gets_the_english_fact_and_a_word_on_it_in_spanish(visitor):
    visitor.say("¿Cuánto cuesta el seguro médico en Irlanda para estudiantes?")
    bot = [m for m in ChatSession.get().visible_messages() if m.sender == "bot"][-1]
    assert bot.entry == "ie-health-insurance" and "insurance" in bot.text
    assert "inglés" in bot.text.split("\n\n")[-1]
    assert '<p class="text" dir="auto">' in visitor.get("/").text  # an English fact reads left to right on an RTL page


@pytest.mark.parametrize("text, status", [("", 400), ("   ", 400), ("x" * 2001, 400), ("x" * 2000, 201)])
def test_message_length_is_checked(visitor, text, status):
    response = visitor.say(text)
    assert response.status_code == status
    assert Message.select().where(Message.sender == "visitor").count() == (1 if status == 201 else 0)


def test_error_keeps_what_the_visitor_wrote(visitor):
    response = visitor.say("y" * 2001)
    assert "at most 2000 characters" in response.text and "y" * 2001 in response.text


def test_asking_for_a_human_joins_the_queue_and_the_bot_stops(visitor):
    visitor.say("I want to talk to a human")
    chat = ChatSession.get()
    assert chat.status == "waiting" and chat.reason == "requested"
    visitor.say("Are you there?")
    assert [m.sender for m in chat.visible_messages()][-1] == "visitor"
    assert "number 1" in visitor.get("/").text


def test_talk_to_a_human_button(visitor):
    assert visitor.post("/chat/handoff").status_code == 204
    page = visitor.get("/").text
    assert "You&#39;re now in the queue" in page or "You're now in the queue" in page


def test_retried_post_with_client_key_is_stored_once(visitor):
    codes = [visitor.say("Is IELTS needed for Canada?", client_key="abc123").status_code for _ in range(3)]
    assert codes == [201, 200, 200]
    assert Message.select().where(Message.sender == "visitor").count() == 1


def test_rating_only_after_close_and_once(visitor, agent):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    assert visitor.post("/chat/rating", {"score": "5"}).status_code == 409
    agent.post(f"/agent/sessions/{chat.id}/take")
    agent.post(f"/agent/sessions/{chat.id}/close")
    assert visitor.post("/chat/rating", {"score": "9"}).status_code == 400
    assert visitor.post("/chat/rating", {"score": "4", "comment": "helpful"}).status_code == 200
    assert visitor.post("/chat/rating", {"score": "1"}).status_code == 409
    assert ChatSession.get().rating == 4


def test_new_chat_after_close(visitor, agent):
    visitor.post("/chat/handoff")
    first = ChatSession.get()
    visitor.post("/chat/new", follow_redirects=False)
    assert ChatSession.get_by_id(first.id).status == "closed"
    visitor.get("/")
    assert ChatSession.select().count() == 1  # until the visitor writes again
    visitor.say("Hello again")
    assert ChatSession.select().count() == 2


def test_a_message_to_a_counsellor_needs_no_decision_until_the_bot_has_the_chat_again(visitor, agent, monkeypatch):
    visitor.say("I want to talk to a human")
    chat = ChatSession.get()
    assert agent.post(f"/agent/sessions/{chat.id}/take").status_code == 200
    decisions, decide = [], conversation.decide
    monkeypatch.setattr(conversation, "decide", lambda *args: decisions.append(args) or decide(*args))
    assert visitor.say("Thanks, I have my grades ready").status_code == 201
    assert decisions == []  # with a counsellor: stored as it is, nothing for the bot to decide
    assert agent.post(f"/agent/sessions/{chat.id}/release").status_code == 200
    assert visitor.say("What are the tuition fees in Germany?").status_code == 201
    assert len(decisions) == 1  # the write found the bot had the chat back: decided then, and answered
    assert [m.sender for m in chat.visible_messages()][-2:] == ["visitor", "bot"]
