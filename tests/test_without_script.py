"""Forms the browser posts itself (no JavaScript) act, then send it back to its page (303), errors shown there once;
the widget's files and the host page's address."""
import html
import re

import pytest

from models import ChatSession, Message

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def submit(browser, path: str, data: dict | None = None, **headers):
    """A form as the browser posts it without JavaScript: its token in the body, no htmx header."""
    return browser.client.post(path, data={"csrf_token": browser.token, **(data or {})},
                               headers={**PAGE, **headers}, follow_redirects=False)


def test_a_message_goes_in_and_the_page_shows_the_reply(visitor):
    question = {"text": "What IELTS score do I need?", "client_key": "k1"}
    response = submit(visitor, "/chat/messages", question)
    assert (response.status_code, response.headers["location"]) == (303, "/#latest")  # the reply in view
    page = visitor.get("/").text
    assert "What IELTS score do I need?" in page and re.search(r'id="latest" data-message-id="\d+" data-sender="bot"', page)
    assert submit(visitor, "/chat/messages", question).status_code == 303
    assert Message.select().where(Message.sender == "visitor").count() == 1  # the same key: stored once


def test_a_refused_message_comes_back_with_its_error_and_text_once(visitor):
    response = submit(visitor, "/chat/messages", {"text": "x" * 2001})
    assert response.status_code == 303 and Message.select().count() == 0
    first, second = visitor.get("/").text, visitor.get("/").text
    assert "at most 2000 characters" in first and "x" * 2001 in first
    assert "at most 2000 characters" not in second


def test_talk_to_a_human_then_end_the_chat(visitor):
    submit(visitor, "/chat/messages", {"text": "Hello"})
    assert submit(visitor, "/chat/handoff").status_code == 303
    assert ChatSession.get().status == "waiting"
    assert submit(visitor, "/chat/end").status_code == 303
    page = html.unescape(visitor.get("/").text)
    assert ChatSession.get().status == "closed" and "This chat has ended." in page
    assert 'id="chat-form"' not in page and "Start a new chat" in page and 'action="/chat/rating"' in page
    assert submit(visitor, "/chat/rating", {"score": "5"}).status_code == 303 and ChatSession.get().rating == 5


@pytest.mark.parametrize("referer, location", [
    ("http://testserver/?embed=1", "/?embed=1#latest"),
    ("https://evil.example/?embed=1", "/#latest"),
    ("http://testserver//evil.example/", "/#latest"),
    (None, "/#latest"),
])
def test_the_way_back_is_a_page_of_this_server(visitor, referer, location):
    headers = {"Referer": referer} if referer else {}
    assert submit(visitor, "/chat/messages", {"text": "Hi"}, **headers).headers["location"] == location


def test_an_agent_takes_answers_and_closes_without_script(visitor, agent):
    submit(visitor, "/chat/messages", {"text": "I need a human about my visa"})
    submit(visitor, "/chat/handoff")
    chat = ChatSession.get()
    for path, data in (("take", {}), ("messages", {"text": "Hello, Sarah here"}), ("close", {"note": "done"})):
        response = submit(agent, f"/agent/sessions/{chat.id}/{path}", data)
        assert (response.status_code, response.headers["location"]) == (303, "/agent/dashboard"), path
    assert ChatSession.get().status == "closed"
    assert Message.get(Message.sender == "agent").text == "Hello, Sarah here"


def test_an_agents_refused_action_shows_on_the_dashboard(agent):
    assert submit(agent, "/agent/sessions/999/take").status_code == 303
    assert "No such chat." in agent.get("/agent/dashboard").text


def test_htmx_and_scripts_still_get_fragments(visitor):
    response = visitor.client.post("/chat/messages", data={"text": "Hi"},
                                   headers={**PAGE, "HX-Request": "true", "X-CSRF-Token": visitor.token})
    assert response.status_code == 201 and 'id="chat-form"' in response.text


@pytest.mark.parametrize("url, title, stored", [
    ("https://www.educonsult.example/study/uk?utm=1", "Study in the UK", True),
    ("javascript:alert(1)", "x", False),
    ("", "", False),
])
@pytest.mark.parametrize("written", [False, True], ids=["before-writing", "after-writing"])
def test_the_host_page_is_stored_for_agents(visitor, url, title, stored, written):
    if written:
        visitor.say("Hello")
    response = visitor.post("/chat/page", {"url": url, "title": title})
    assert response.status_code == (204 if stored else 400)
    if not written:  # kept until the first message begins the chat
        assert ChatSession.select().count() == 0
        visitor.say("Hello")
    chat = ChatSession.get()
    assert (chat.page_url, chat.page_title) == ((url, title) if stored else (None, None))


@pytest.mark.parametrize("path, kind", [("/widget.js", "text/javascript"), ("/favicon.ico", "image/svg+xml")])
def test_the_widget_and_the_icon_are_served_at_the_root(visitor, path, kind):
    response = visitor.client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
