"""The inbox's rules: presence is a live dashboard, transfers go to someone present with room, Take twice is
harmless, and a counsellor's reply keeps a chat open."""
from datetime import timedelta

import pytest

import conversation
from models import Agent, ChatSession, Message, now
from realtime import QUEUE
from tests.test_agent import waiting_chat


def taken_chat(visitor, counsellor) -> ChatSession:
    """A visitor's chat in the queue, then taken by this counsellor."""
    chat = waiting_chat(visitor)
    counsellor.post(f"/agent/sessions/{chat.id}/take")
    return chat


def test_signing_in_is_not_being_present(agent):
    assert Agent.by_agent_id("agent_001").presence() == "offline"


def test_a_dashboard_without_script_keeps_its_counsellor_present_through_its_beacon(agent):
    assert 'src="/agent/seen"' in agent.get("/agent/dashboard").text  # inside <noscript>: only such browsers load it
    assert Agent.by_agent_id("agent_001").presence() == "offline"
    beacon = agent.get("/agent/seen")
    assert beacon.headers["content-type"] == "image/gif" and beacon.headers["cache-control"] == "no-store"
    assert Agent.by_agent_id("agent_001").presence() == "online"


def test_a_transfer_to_an_absent_agent_is_refused_and_changes_nothing(visitor, agent):
    chat = taken_chat(visitor, agent)
    response = agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002", "note": "US"})
    assert response.status_code == 409 and "Michael Chen is offline" in response.text
    assert ChatSession.get_by_id(chat.id).agent.agent_id == "agent_001"


def test_a_transfer_to_a_full_agent_is_refused(visitor, agent):
    chat = taken_chat(visitor, agent)
    michael = Agent.by_agent_id("agent_002")
    michael.touch()
    Agent.update(max_chats=0).where(Agent.id == michael.id).execute()
    response = agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002"})
    assert response.status_code == 409 and "limit" in response.text


def test_the_receiver_sees_who_transferred_and_why(visitor, agent, other_agent):
    chat = taken_chat(visitor, agent)
    Agent.by_agent_id("agent_002").touch()
    agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002", "note": "Asks about Columbia"})
    page = other_agent.get("/agent/dashboard").text
    assert "Transferred by Sarah Johnson" in page and "Asks about Columbia" in page


def test_after_a_transfer_the_visitor_does_not_see_the_receiver_typing(visitor, agent):
    chat = taken_chat(visitor, agent)
    Agent.by_agent_id("agent_002").touch()
    agent.post(f"/agent/sessions/{chat.id}/typing")
    assert ChatSession.get_by_id(chat.id).typing("agent")
    agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002"})
    assert not ChatSession.get_by_id(chat.id).typing("agent")


def test_a_typing_notice_trailing_the_counsellors_own_message_does_not_show_them_typing(visitor, agent):
    chat = taken_chat(visitor, agent)
    assert agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Let me check"}).status_code == 201
    agent.post(f"/agent/sessions/{chat.id}/typing")  # the message box's throttled notice, arriving after the send
    assert not ChatSession.get_by_id(chat.id).typing("agent")
    Message.update(created_at=now() - timedelta(seconds=5)).where(Message.session == chat.id).execute()
    agent.post(f"/agent/sessions/{chat.id}/typing")
    assert ChatSession.get_by_id(chat.id).typing("agent")


def test_taking_a_chat_that_is_already_mine_changes_nothing(visitor, agent):
    chat = waiting_chat(visitor)
    assert agent.post(f"/agent/sessions/{chat.id}/take").status_code == 200
    before = Message.select().count()
    assert agent.post(f"/agent/sessions/{chat.id}/take").status_code == 200
    assert Message.select().count() == before and ChatSession.get_by_id(chat.id).agent.agent_id == "agent_001"


@pytest.mark.parametrize("replied_minutes_ago, closed", [(5, False), (20, True), (None, True)])
def test_inactivity_counts_from_the_last_message_of_either_side(app, replied_minutes_ago, closed):
    sarah = Agent.by_agent_id("agent_001")
    chat = ChatSession.create(status="assigned", agent=sarah, last_visitor_at=now() - timedelta(minutes=30))
    if replied_minutes_ago is not None:
        Message.create(session=chat, sender="agent", agent=sarah, text="Let me check",
                       created_at=now() - timedelta(minutes=replied_minutes_ago))
    conversation.close_idle(inactive_minutes=15, bot_hours=24)
    assert (ChatSession.get_by_id(chat.id).status == "closed") is closed


def closed_chat(visitor, agent, text: str) -> ChatSession:
    chat = taken_chat(visitor, agent)
    agent.post(f"/agent/sessions/{chat.id}/messages", {"text": text})
    agent.post(f"/agent/sessions/{chat.id}/close", {"note": "done"})
    return chat


@pytest.mark.parametrize("query, found", [
    ("q=scholarship", True), ("q=SCHOLARSHIP", True), ("q=mortgage", False), ("agent=agent_001", True),
    ("agent=agent_002", False), ("reason=requested", True), ("reason=urgent", False), ("rating=5", False),
    ("from=2000-01-01&to=2999-12-31", True), ("to=2000-01-01", False),
])
def test_history_search_finds_closed_chats(visitor, agent, query, found):
    chat = closed_chat(visitor, agent, "The Chevening scholarship closes in November")
    page = agent.get(f"/agent/conversations?{query}").text
    assert (f'href="/agent/conversations/{chat.id}"' in page) is found


@pytest.mark.parametrize("query", ["from=yesterday", "rating=9", "reason=<script>"])
def test_a_search_that_cannot_be_read_says_why(agent, query):
    response = agent.get(f"/agent/conversations?{query}")
    assert response.status_code == 400 and 'class="error"' in response.text and "<script>" not in response.text


def test_the_transcript_shows_the_timeline(visitor, agent):
    chat = closed_chat(visitor, agent, "Here is the checklist")
    page = agent.get(f"/agent/conversations/{chat.id}").text
    for seen in ("documents for a UK student visa", 'data-action="take"', "Here is the checklist",
                 'data-action="close"', "Closing note: done"):
        assert seen in page, seen
    assert agent.get("/agent/conversations/999").status_code == 404


def test_a_non_admin_gets_a_page_with_the_navigation(other_agent):
    response = other_agent.get("/agent/admin")
    assert response.status_code == 403 and "Admins only" in response.text and "Sign out" in response.text


@pytest.mark.parametrize("text, html", [
    ("See https://www.ucas.com/apply.", 'See <a href="https://www.ucas.com/apply" target="_blank" '
                                         'rel="noopener noreferrer">https://www.ucas.com/apply</a>.'),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ('<b>x</b> http://a.example/?q="><script>', '&lt;b&gt;x&lt;/b&gt; <a href="http://a.example/?q=" '
                                                'target="_blank" rel="noopener noreferrer">http://a.example/?q=</a>'
                                                '&#34;&gt;&lt;script&gt;'),
    ("ftp://files.example/x", "ftp://files.example/x"),
])
def test_links_in_messages_are_safe(text, html):
    from links import linkify
    assert str(linkify(text)) == html


def test_an_admin_joins_beside_the_counsellor_writes_and_leaves(visitor, agent, other_agent):
    chat = taken_chat(visitor, other_agent)
    assert f'data-session-id="{chat.id}"' in agent.get("/agent/admin/live").text
    assert other_agent.post(f"/agent/admin/live/{chat.id}/join").status_code == 403
    assert agent.post(f"/agent/admin/live/{chat.id}/join", follow_redirects=False).status_code == 303
    chat = ChatSession.get_by_id(chat.id)
    assert chat.agent.agent_id == "agent_002" and chat.joined_by.agent_id == "agent_001"
    assert "Sarah Johnson has joined the chat" in visitor.get("/").text
    assert agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Sarah here, with Michael"}).status_code == 201
    shown = other_agent.get("/agent/dashboard").text
    assert "Sarah here, with Michael" in shown and "msg-colleague" in shown  # not styled as Michael's own
    assert "msg-colleague" not in agent.get(f"/agent/dashboard?chat={chat.id}").text
    assert "Leave chat" in agent.get(f"/agent/dashboard?chat={chat.id}").text
    for action in ("close", "release", "transfer"):  # the chat stays the counsellor's
        assert agent.post(f"/agent/sessions/{chat.id}/{action}", {"agent_id": "skill:us"}).status_code == 403
    assert agent.post(f"/agent/sessions/{chat.id}/leave").status_code == 200
    assert ChatSession.get_by_id(chat.id).joined_by is None and "Sarah Johnson has left the chat" in visitor.get("/").text
    assert agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Still here?"}).status_code == 403


def test_the_visitor_is_told_who_joined_in_their_language(visitor, agent, other_agent):
    chat = taken_chat(visitor, other_agent)
    ChatSession.update(language="es").where(ChatSession.id == chat.id).execute()
    agent.post(f"/agent/admin/live/{chat.id}/join")
    agent.post(f"/agent/sessions/{chat.id}/leave")
    texts = [m.text for m in Message.select().where(Message.session == chat.id, Message.sender == "system")]
    assert "Sarah Johnson se ha unido al chat." in texts and "Sarah Johnson ha salido del chat." in texts


def test_a_chat_in_the_queue_is_taken_over_not_joined(visitor, agent):
    chat = waiting_chat(visitor)
    assert agent.post(f"/agent/admin/live/{chat.id}/join").status_code == 409
    assert agent.post(f"/agent/admin/live/{chat.id}/reassign", {"agent_id": "agent_001"},
                      follow_redirects=False).status_code == 303
    assert ChatSession.get_by_id(chat.id).agent.agent_id == "agent_001"
    response = agent.post(f"/agent/admin/live/{chat.id}/reassign", {"agent_id": "agent_003"})
    assert response.status_code == 409 and ChatSession.get_by_id(chat.id).agent.agent_id == "agent_001"


@pytest.mark.parametrize("zone, accept, country, local", [
    ("Asia/Kolkata", "en-US,en;q=0.9", "India", "(Asia/Kolkata)"),  # the zone wins over a habitual en-US
    ("", "pt-BR,pt;q=0.9", "Brazil", "not known"),  # without script: the browser's language region alone
    ("../../etc/passwd", "en", "not known", "not known"),
])
def test_the_visitor_card_guesses_the_country_and_shows_local_time(visitor, agent, zone, accept, country, local):
    visitor.post("/chat/messages", {"text": "What are the documents for a UK student visa?", "time_zone": zone},
                 headers={"Accept-Language": accept})
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    card = agent.get("/agent/dashboard").text.split('class="visitor-card"')[1]
    assert f'<dd class="country" title="Guessed from the browser\'s time zone and language">{country}</dd>' in card
    assert local in card.split('class="local-time">')[1].split("</dd>")[0]


def test_a_handoff_brings_the_time_zone_of_a_chat_begun_without_it(visitor):
    visitor.say("What are the documents for a UK student visa?")
    visitor.post("/chat/handoff", {"time_zone": "Europe/Madrid"})
    chat = ChatSession.get()
    assert (chat.time_zone, chat.country) == ("Europe/Madrid", "Spain")


def test_every_change_of_load_reaches_every_dashboard(app):
    sarah, michael = Agent.by_agent_id("agent_001"), Agent.by_agent_id("agent_002")
    michael.touch()
    chat = ChatSession.create(status="assigned", agent=sarah)
    assert QUEUE in conversation.transfer(chat.id, sarah, michael).topics  # the team lists show each load
    assert QUEUE in conversation.close_own(chat.id, michael).topics


def test_an_admin_who_joined_and_then_takes_the_chat_over_is_no_longer_beside_themselves(visitor, agent, other_agent):
    chat = taken_chat(visitor, other_agent)
    agent.post(f"/agent/admin/live/{chat.id}/join")
    agent.post(f"/agent/admin/live/{chat.id}/reassign", {"agent_id": "agent_001"})
    chat = ChatSession.get_by_id(chat.id)
    assert chat.agent.agent_id == "agent_001" and chat.joined_by is None
    assert "Leave chat" not in agent.get(f"/agent/dashboard?chat={chat.id}").text


def test_a_counsellor_at_their_limit_is_not_offered_take(visitor, agent):
    chat = waiting_chat(visitor)
    assert 'disabled aria-describedby="at-limit"' not in agent.get("/agent/dashboard").text
    Agent.update(max_chats=0).where(Agent.agent_id == "agent_001").execute()
    page = agent.get("/agent/dashboard").text
    assert "your limit of 0 open chats" in page and f'id="take-{chat.id}" disabled aria-describedby="at-limit"' in page


def test_a_link_to_a_chat_that_is_not_yours_says_so_rather_than_opening_another(visitor, agent):
    visitor.say("I want to talk to a person")
    chat = ChatSession.get()
    assert chat.agent is None  # waiting in the queue, not this agent's
    assert "That chat is not one of yours" in agent.get(f"/agent/dashboard?chat={chat.id}").text
    assert "That chat is not one of yours" not in agent.get("/agent/dashboard").text
