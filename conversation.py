"""What happens to a chat when a visitor or an agent acts on it: stored first, then the topics to wake.

Every function here is synchronous and runs in a worker thread; it returns the hub topics
the caller notifies once the transaction has committed.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import PostgresqlDatabase, fn

from delivery import mail
import office_hours
from escalation import assess
from escalation.language import detect_sure
from i18n import interface, translate, translated
from models import MESSAGES_BETWEEN, Agent, AgentSession, ChatSession, FollowUp, Message, Outbox, SessionAnalytics, db, now
from realtime import OUTBOX, QUEUE, ROUTING, agent_topic, session_topic

EXPIRED_TEXT = "Your chat session has expired. Reload the page."
QUEUED_TEXT = "You're now in the queue for a human counsellor."
CLOSED_TEXT = "%(name)s has ended the chat. Thank you for talking with us; you can rate this chat below."
ENDED_TEXT = "This chat has ended. Start a new chat to keep talking."
ENGLISH_ONLY_TEXT = ("This answer is only available in English for now. A counsellor who speaks your language "
                     "can help: just ask for one.")
_assign_lock = threading.Lock()


class ChatError(Exception):
    """An action that cannot be done on this chat, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Posted:
    """Messages one transaction added to a chat whose status it left alone, and the chat's newest ids before them.

    Handed to this process's streams with the wake-up: a stream that has sent everything up to those ids
    sends these without reading them back; any other stream reads the database as usual. Other processes
    get them too (`brief`), or only their ids when the rows are too long for a wake-up, and then read just
    those rows (`load`) instead of everything their streams show.
    """
    chat_id: int
    after: int  # the chat's newest message id before the transaction
    after_visible: int  # the same without internal notes: what the visitor's stream has seen
    messages: list[Message] | None  # None until `load` reads them, when another process wrote them
    upto: int = 0  # the newest id the transaction wrote
    reading: object = field(default=None, repr=False, compare=False)  # the read of `messages`, under way

    def since(self, last: int, visible: bool) -> list[Message] | None:
        """What a stream that has sent up to `last` still needs from these, or None if it may have missed others."""
        if self.messages is None or (self.after_visible if visible else self.after) > last:
            return None
        return [m for m in self.messages if m.id > last and not (visible and m.internal)]

    def brief(self, limit: int | None = None) -> str:
        """The ids, and the rows themselves when they fit in `limit` bytes (ROWS_LIMIT) and are all at hand."""
        ids = f"{self.chat_id},{self.after},{self.after_visible},{self.upto or self.messages[-1].id}"
        limit = ROWS_LIMIT if limit is None else limit
        rows = [_row(m) for m in self.messages or ()]
        if limit and rows and None not in rows:
            text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
            if len(text.encode()) <= limit:
                return f"{ids},{text}"
        return ids

    @classmethod
    def from_brief(cls, text: str) -> "Posted | None":
        parts = text.split(",", 4)
        try:
            chat_id, after, after_visible, upto = (int(n) for n in parts[:4])
            messages = [_message(chat_id, row) for row in json.loads(parts[4])] if len(parts) == 5 else None
        except (ValueError, TypeError, IndexError):
            return None
        return cls(chat_id, after, after_visible, messages, upto)

    @staticmethod
    def load(posts: list["Posted"]) -> None:
        """Read the rows of those written elsewhere: the chat's ids after `after` up to `upto` are all theirs,
        since the writing transaction held the chat's lock from reading `after` until its commit."""
        for posted in posts:
            if posted.messages is None:
                posted.messages = [_message(posted.chat_id, row) for row in
                                   MESSAGES_BETWEEN.rows(posted.chat_id, posted.after, posted.upto)]


ROWS_LIMIT = 7_900  # bytes of rows a wake-up carries (pg_notify takes 8,000); beyond, the ids alone


def _row(message: Message) -> list | None:
    """A message as a wake-up carries it; None when its counsellor's name is not at hand (then the ids go)."""
    if not isinstance(message, Message):
        return None
    agent = message.__rel__.get("agent")
    if agent is None and message.agent_id:
        return None
    return [message.id, message.sender, message.text, message.created_at.isoformat(), message.internal,
            message.agent_id, agent.name if agent else None, message.confidence, message.handoff, message.reason,
            message.entry, message.choices, message.offer]


def _message(chat_id: int, row: list) -> Message:
    id_, sender, text, at, internal, agent_id, name, confidence, handoff, reason, entry, choices, offer = row
    message = Message(id=id_, session=chat_id, sender=sender, text=text,
                      created_at=at if isinstance(at, datetime) else datetime.fromisoformat(at), internal=bool(internal), agent=Agent(id=agent_id, name=name) if agent_id else None,
                      confidence=confidence, handoff=handoff, reason=reason, entry=entry, choices=choices, offer=offer)
    message._dirty.clear()
    return message


@dataclass
class Outcome:
    topics: set[str] = field(default_factory=set)
    message: Message | None = None
    created: bool = True
    events: list[tuple[str, int]] = field(default_factory=list)  # (webhook event, chat id)
    posted: Posted | None = None
    language: str | None = None  # the language the visitor's page is in after this, when a message may change it
    status: str | None = None  # a visitor's message: the chat's status after it

    def wake(self, chat: ChatSession, *more: str) -> "Outcome":
        self.topics.add(session_topic(chat.id))
        if chat.agent_id:
            self.topics.add(agent_topic(chat.agent_id))
        if chat.joined_by_id:
            self.topics.add(agent_topic(chat.joined_by_id))
        self.topics.update(more)
        return self


def _serialize(key: int) -> None:
    """On PostgreSQL, ids of one chat commit in the order they were drawn, so `id > last` misses none."""
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def _locked(chat: ChatSession | str, start: dict | None = None) -> ChatSession:
    """The chat as it is inside the transaction; by token, as the visitor's cookie holds it, saves a lookup first.

    With `start` (the new chat's fields), a token no chat has yet begins one here, in the same transaction as the
    write that needs it: a page view alone leaves no row."""
    if isinstance(chat, str) and start is not None:
        found = ChatSession.by_token(chat)
        if found is None:
            found = ChatSession.create(token=chat, **start)
            _serialize(found.id)
        elif isinstance(db.obj, PostgresqlDatabase):
            ChatSession.lock_by_token(chat)
            found = ChatSession.by_id(found.id)
        return found
    if isinstance(chat, str):
        if isinstance(db.obj, PostgresqlDatabase):
            chat_id = ChatSession.lock_by_token(chat)  # the chat's lock, found by its token in one round trip
            found = ChatSession.by_id(chat_id) if chat_id else None  # then read under the lock
        else:
            found = ChatSession.by_token(chat)  # SQLite's IMMEDIATE transaction already holds the write lock
        if found is None:
            raise ChatError(EXPIRED_TEXT, 403)
        return found
    _serialize(chat.id)
    return ChatSession.get_by_id(chat.id)


def _system(chat: ChatSession, text: str, internal: bool = False, agent: Agent | None = None) -> Message:
    message, _ = Message.add(chat, "system", text, internal=internal, agent=agent)
    return message


def _event(out: Outcome, name: str, chat: ChatSession, **detail) -> None:
    """A webhook event, queued in the outbox inside the chat's own transaction: both commit or neither."""
    out.events.append((name, chat.id))
    if Outbox.webhook(name, chat, **detail):
        out.topics.add(OUTBOX)


def _escalate(chat: ChatSession, reason: str, skill: str, out: Outcome) -> None:
    stamp = now()
    chat.status, chat.reason, chat.skill = "waiting", reason, skill or "general"
    chat.escalated_at = chat.escalated_at or stamp
    chat.queued_at = stamp
    chat.priority = 2 if reason == "urgent" else chat.priority  # emergencies go ahead of everyone waiting
    chat.save()
    _system(chat, translate(chat.language, QUEUED_TEXT))
    _event(out, "escalated", chat)
    out.wake(chat, QUEUE, ROUTING)


def _wanted_skill(text: str, skill: str | None, history: list[dict]) -> str:
    """The skill the visitor's own questions point to: this message's, else the latest earlier one's."""
    if skill and skill != "general":
        return skill
    asked = [h["text"] for h in history if h["sender"] == "visitor" and h["text"] != text]
    for earlier in reversed(asked):
        found = getattr(assess(earlier, history=[]), "skill", None)
        if found and found != "general":
            return found
    return skill or "general"


def _bot_reply(reply: str, language: str | None) -> str:
    """The bot's reply in the chat's language: its own sentences come from the catalog; a knowledge-base
    answer with no translation stays in English, followed by a word on that in the visitor's language."""
    found = translated(language, reply) if interface(language) else None
    if found:
        return found
    if interface(language) not in (None, "en") and detect_sure(reply) in (None, "en"):
        return f"{reply}\n\n{translate(language, ENGLISH_ONLY_TEXT)}"
    return reply


@dataclass(frozen=True)
class Decided:
    """The bot's decision on a visitor's message, made outside any transaction, for the chat as it then stood."""
    chat_id: int
    status: str
    upto: int  # the chat's newest message id when decided: a later message makes the decision stale
    decision: object | None = None
    skill: str = "general"  # the team a handoff goes to
    spoken: str | None = None  # the message's language, when the detector is sure of it
    language: str | None = None  # the chat's language when decided


class Stale(ChatError):
    """The chat moved on between the decision and the write: decide again."""

    def __init__(self) -> None:
        super().__init__("This chat changed while your message was read. Please send it again.", 409)


def decide(chat: ChatSession | str, text: str, new: bool = False) -> Decided | None:
    """The bot's decision on `text`, by reads alone: CPU-bound, so callers run it off the event loop and the lock.

    `new`: the first message of a chat that does not exist yet (its id is 0 in the decision)."""
    chat = ChatSession.by_token(chat) if isinstance(chat, str) else chat
    if chat is None and new:
        chat = ChatSession(id=0, status="bot")
    if chat is None:
        return None
    upto = Message.newest_ids(chat.id)[0] if chat.id else 0
    if chat.status != "bot":
        return Decided(chat.id, chat.status, upto, spoken=detect_sure(text), language=chat.language)
    history = chat.visitor_history() if chat.id else []
    decision = assess(text, history=history)
    skill = _wanted_skill(text, getattr(decision, "skill", None), history) if decision.handoff else "general"
    return Decided(chat.id, chat.status, upto, decision, skill, decision.spoken, chat.language)


def visitor_message(chat: ChatSession | str, text: str, client_key: str | None = None,
                    decided: Decided | None = None, chosen: str | None = None, start: dict | None = None) -> Outcome:
    """Store what the visitor wrote; while the bot has the chat, answer or hand off as `decided` (decided here
    when not given). Raises Stale when the bot has the chat and the decision was made on a chat that has changed.

    The chat's language follows each message the detector is sure of, unless the visitor `chosen` one.
    """
    if decided is None:
        decided = decide(chat, text)
    spoken = chosen or (decided.spoken if decided else None)
    out = Outcome()
    with db.atomic():
        chat = _locked(chat, start)
        if chat.status == "closed":
            raise ChatError(translate(chat.language, ENDED_TEXT), 409)
        if spoken and spoken != chat.language:
            chat.language = spoken
            ChatSession.update(language=spoken).where(ChatSession.id == chat.id).execute()
        out.language = interface(chat.language)
        after, after_visible = Message.newest_ids(chat.id)
        decision = None
        if chat.status == "bot":
            seen = (decided.chat_id or chat.id, decided.upto) if decided is not None else None
            if decided is None or decided.decision is None or seen != (chat.id, after):
                raise Stale()
            decision = decided.decision
        fields = {}
        if decision is not None:
            fields = dict(confidence=decision.confidence, handoff=decision.handoff, reason=decision.reason)
        message, created = Message.add(chat, "visitor", text, client_key=client_key, **fields)
        out.message, out.created = message, created
        if not created:
            return out
        chat.visitor_wrote()
        if decision is not None and decision.handoff:
            # The bot says why it hands over (in an emergency, what to do right now), then the queue.
            Message.add(chat, "bot", _bot_reply(decision.reply, chat.language))  # no confidence: not an answer
            _escalate(chat, decision.reason or "fallback", decided.skill, out)
        else:
            added = [message]
            if decision is not None:
                reply = _bot_reply(decision.reply, chat.language)
                added.append(Message.add(chat, "bot", reply, confidence=decision.confidence, entry=decision.topic,
                                         choices=",".join(decision.choices) or None,
                                         offer=decision.offers or None)[0])
            out.posted = Posted(chat.id, after, after_visible, added)
        out.wake(chat)
        out.status = chat.status
    return out


def choose_language(chat: ChatSession, language: str) -> Outcome:
    """The visitor picked their page's language: their chat is in it from now on, for the bot and the agents."""
    with db.atomic():
        _serialize(chat.id)
        ChatSession.update(language=language).where(ChatSession.id == chat.id).execute()
    return Outcome().wake(chat, QUEUE)


def handoff_skill(chat: ChatSession) -> str:
    """The team the visitor's own questions point to, by reads alone (CPU-bound, like `decide`)."""
    history = chat.visitor_history()
    last = next((h["text"] for h in reversed(history) if h["sender"] == "visitor"), "")
    return _wanted_skill(last, assess(last, history=history[:-1]).skill, history) if last else "general"


def request_human(chat: ChatSession | str, skill: str | None = None, start: dict | None = None) -> Outcome:
    """The visitor pressed "Talk to a human"; `skill` is `handoff_skill`'s, worked out here when not given.
    A token with `start` begins the chat here, a handoff being its first act."""
    out = Outcome()
    if skill is None and isinstance(chat, ChatSession) and chat.status == "bot":
        skill = handoff_skill(chat)
    with db.atomic():
        chat = _locked(chat, start)
        if chat.status == "closed":
            raise ChatError(translate(chat.language, ENDED_TEXT), 409)
        if chat.status == "bot":
            _escalate(chat, "requested", skill or "general", out)
    return out


def _lock_agent(agent: Agent) -> None:
    """On PostgreSQL, the agent's row until the transaction ends: takes count their open chats one at a time.
    (SQLite's IMMEDIATE transaction already holds the only write lock.)"""
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql('SELECT id FROM agent WHERE id = %s FOR UPDATE', (agent.id,))


def take(chat: ChatSession, agent: Agent, action: str = "take") -> Outcome:
    """Give a waiting chat to an agent within their limit; only one can win it."""
    out = Outcome()
    with db.atomic():
        _serialize(chat.id)
        _lock_agent(agent)
        mine = ChatSession.get_or_none(ChatSession.id == chat.id, ChatSession.status == "assigned",
                                       ChatSession.agent == agent)
        if mine is not None:  # already mine (routing gave it to me a moment ago): taking it again changes nothing
            return out.wake(mine, agent_topic(agent.id))
        if agent.open_chats().count() >= agent.max_chats:
            raise ChatError(f"You already have {agent.max_chats} open chats, your limit.", 409)
        stamp = now()
        won = (ChatSession.update(status="assigned", agent=agent, assigned_at=stamp, priority=0, joined_by=None)
               .where(ChatSession.id == chat.id, ChatSession.status == "waiting").execute())
        if not won:
            raise ChatError("Another counsellor has already taken this chat.", 409)
        chat = ChatSession.get_by_id(chat.id)
        AgentSession.record(chat, action, agent=agent)
        _system(chat, translate(chat.language, "%(name)s has joined the chat.", name=agent.name), agent=agent)
        _event(out, "assigned", chat)
        out.wake(chat, QUEUE, agent_topic(agent.id))
    return out


def own(chat_id: int, agent: Agent, joined: bool = False) -> ChatSession:
    """The chat, if it is assigned to this agent (or, with `joined`, if they joined it as an admin); else 404 or
    403."""
    chat = ChatSession.get_or_none(ChatSession.id == chat_id)
    if chat is None:
        raise ChatError("No such chat.", 404)
    if chat.status != "assigned" or agent.id not in (chat.agent_id, chat.joined_by_id if joined else None):
        raise ChatError("This chat is not assigned to you.", 403)
    return chat


def agent_message(chat_id: int, agent: Agent, text: str, client_key: str | None = None,
                  internal: bool = False) -> Outcome:
    """An agent's reply, or an internal note the visitor never sees."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = own(chat_id, agent, joined=True)
        after, after_visible = Message.newest_ids(chat.id)
        message, created = Message.add(chat, "agent", text, client_key=client_key, agent=agent, internal=internal)
        out.message, out.created = message, created
        if created and not internal:
            chat.agent_typing_at = None
            if chat.first_response_at is None:
                chat.first_response_at = now()
            chat.save(only=[ChatSession.agent_typing_at, ChatSession.first_response_at])
        if created and internal:
            AgentSession.record(chat, "note", agent=agent, note=text)
        if created:
            out.posted = Posted(chat.id, after, after_visible, [message])
        out.wake(chat)
    return out


class Post:
    """A visitor's or a counsellor's message as one item of a turn's statement (writes.sql, PostgreSQL): the
    same checks and writes as `visitor_message` and `agent_message`, whose outcome `finish` makes of its row."""

    def __init__(self, fields: dict, agent: Agent | None = None) -> None:
        self.fields, self.agent = fields, agent

    @classmethod
    def visitor(cls, chat: ChatSession | str, text: str, client_key: str | None = None,
                decided: Decided | None = None, chosen: str | None = None, start: dict | None = None) -> "Post | None":
        """None where the message needs more than the statement does: a handoff, or the first message of a chat
        that it begins. Without a decision (a chat last seen with a counsellor) the statement refuses it as
        Stale if the bot has the chat after all."""
        if start is not None or (decided is not None and decided.decision is not None and decided.decision.handoff):
            return None
        spoken = chosen or (decided.spoken if decided is not None else detect_sure(text))
        fields = dict(kind="visitor", text=text, key=client_key or None, spoken=spoken, at=now().isoformat(),
                      upto=decided.upto if decided is not None else None)
        fields.update({"token": chat} if isinstance(chat, str) else {"chat": chat.id})
        decision = decided.decision if decided is not None else None
        if decision is not None:
            fields["language"] = language = spoken or decided.language
            fields["bot"] = dict(confidence=decision.confidence, handoff=decision.handoff, reason=decision.reason,
                                 reply=_bot_reply(decision.reply, language), entry=decision.topic,
                                 choices=",".join(decision.choices) or None, offer=decision.offers or None)
        return cls(fields)

    @classmethod
    def counsellor(cls, chat_id: int, agent: Agent, text: str, client_key: str | None = None,
                   internal: bool = False) -> "Post":
        return cls(dict(kind="agent", chat=chat_id, agent=agent.id, text=text, key=client_key or None,
                        internal=internal, at=now().isoformat()), agent)

    def finish(self, row: dict) -> Outcome:
        """The outcome of this item's row, or its chat's refusal as a ChatError."""
        refused, fields = row.get("refused"), self.fields
        if refused == "expired":
            raise ChatError(EXPIRED_TEXT, 403) if fields["kind"] == "visitor" else ChatError("No such chat.", 404)
        if refused == "not yours":
            raise ChatError("This chat is not assigned to you.", 403)
        if refused == "closed":
            raise ChatError(translate(row["language"], ENDED_TEXT), 409)
        if refused == "stale":
            raise Stale()
        out = Outcome(language=interface(row["language"]) if fields["kind"] == "visitor" else None)
        out.topics.add(session_topic(row["chat"]))
        for agent_pk in (row["agent"], row.get("joined")):
            if agent_pk:
                out.topics.add(agent_topic(agent_pk))
        if "existing" in row:
            existing = row["existing"]
            out.message, out.created = Message(**{**existing, "created_at": _stamp(existing["created_at"])}), False
            if self.agent is not None:
                out.message.agent = self.agent
            return out
        stamp, ids = _stamp(fields["at"]), row["ids"]
        agent = self.agent
        added = [Message(id=ids[0], session=row["chat"], sender=fields["kind"], text=fields["text"], created_at=stamp,
                         client_key=fields["key"], internal=bool(fields.get("internal")), agent=agent)]
        bot = fields.get("bot")
        if bot is not None and len(ids) == 1:  # the bot no longer has the chat: no answer, no decision stored
            bot = None
        if bot is not None:
            added[0].confidence, added[0].handoff, added[0].reason = bot["confidence"], bot["handoff"], bot["reason"]
            added.append(Message(id=ids[1], session=row["chat"], sender="bot", text=bot["reply"], created_at=stamp,
                                 confidence=bot["confidence"], entry=bot["entry"], choices=bot["choices"],
                                 offer=bot["offer"]))
        for message in added:
            message._dirty.clear()
        out.message = added[0]
        out.posted = Posted(row["chat"], row["after"], row["after_visible"], added)
        return out


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def transfer(chat_id: int, agent: Agent, target: Agent | None = None, skill: str | None = None,
             note: str = "", grace_seconds: float = 60.0) -> Outcome:
    """Hand a chat to another agent who is present and has room, or back to the queue for a skill, with a note."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = own(chat_id, agent)
        out.topics.add(agent_topic(agent.id))
        if target is not None:
            if target.id == agent.id or not target.active:
                raise ChatError("Choose another active counsellor.", 400)
            _lock_agent(target)
            target = Agent.get_by_id(target.id)
            if target.presence(grace_seconds) != "online":
                raise ChatError(f"{target.name} is {target.presence(grace_seconds)}: transfer to someone present, "
                                "or to a team's queue.", 409)
            if target.open_chats().count() >= target.max_chats:
                raise ChatError(f"{target.name} already has {target.max_chats} chats, their limit.", 409)
            out.topics |= {agent_topic(target.id), QUEUE}  # QUEUE: every dashboard's team list shows the load
            chat.agent, chat.assigned_at = target, now()
            chat.agent_typing_at = None  # the one typing was the sender: the visitor must not see the receiver typing
            if chat.joined_by_id == target.id:
                chat.joined_by = None  # the admin who joined it now has it
            chat.save()
            AgentSession.record(chat, "transfer", agent=agent, target_agent=target, note=note or None)
            _system(chat, translate(chat.language, "%(agent)s transferred you to %(target)s.", agent=agent.name,
                                    target=target.name), agent=agent)
        else:
            chat.status, chat.agent, chat.skill = "waiting", None, skill or chat.skill
            chat.priority, chat.queued_at, chat.agent_typing_at = 1, now(), None
            chat.save()
            AgentSession.record(chat, "transfer", agent=agent, note=note or None)
            _system(chat, translate(chat.language,
                                    "You're being transferred to another counsellor. Please stay in the chat."))
            out.topics |= {QUEUE, ROUTING}
        if note:
            _system(chat, f"Transfer note from {agent.name}: {note}", internal=True, agent=agent)
        _event(out, "transferred", chat, from_agent=agent.agent_id,
               to_agent=target.agent_id if target is not None else None)
        out.wake(chat)
    return out


def reassign(chat_id: int, admin: Agent, target: Agent, grace_seconds: float = 60.0) -> Outcome:
    """An admin moves a live chat to a present agent with room, themselves included (taking it over); the
    visitor is told who is with them now."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = ChatSession.get_or_none(ChatSession.id == chat_id)
        if chat is None or chat.status not in ("waiting", "assigned"):
            raise ChatError("This chat is no longer live.", 409)
        if chat.agent_id == target.id:
            return out.wake(chat)
        _lock_agent(target)
        target = Agent.get_by_id(target.id)
        if target.id != admin.id and target.presence(grace_seconds) != "online":
            raise ChatError(f"{target.name} is {target.presence(grace_seconds)}: choose someone present.", 409)
        if target.open_chats().count() >= target.max_chats and target.id != admin.id:
            raise ChatError(f"{target.name} already has {target.max_chats} chats, their limit.", 409)
        out.wake(chat)  # whoever had it or joined it before
        if chat.joined_by_id == target.id or chat.status == "waiting":
            chat.joined_by = None  # the admin now has it, or had joined it before it went back to the queue
        chat.status, chat.agent, chat.assigned_at, chat.priority = "assigned", target, now(), 0
        chat.agent_typing_at = None
        chat.save()
        AgentSession.record(chat, "transfer", agent=admin, target_agent=target, note="reassigned by an admin")
        _system(chat, translate(chat.language, "%(name)s has joined the chat.", name=target.name), agent=target)
        _event(out, "transferred", chat, from_agent=admin.agent_id, to_agent=target.agent_id)
        out.wake(chat, agent_topic(target.id), QUEUE)
    return out


def join(chat_id: int, admin: Agent) -> Outcome:
    """An admin joins a counsellor's chat beside them: both write, the visitor is told, the chat stays theirs."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = ChatSession.get_or_none(ChatSession.id == chat_id)
        if chat is None or chat.status != "assigned":
            raise ChatError("Only a chat with a counsellor can be joined; take or reassign a waiting one.", 409)
        if admin.id in (chat.agent_id, chat.joined_by_id):
            return out.wake(chat)
        if chat.joined_by_id:
            raise ChatError(f"{chat.joined_by.name} has already joined this chat.", 409)
        chat.joined_by = admin
        chat.save(only=[ChatSession.joined_by])
        AgentSession.record(chat, "join", agent=admin, target_agent=chat.agent)
        _system(chat, translate(chat.language, "%(name)s has joined the chat.", name=admin.name), agent=admin)
        out.wake(chat, QUEUE)
    return out


def leave(chat_id: int, admin: Agent) -> Outcome:
    """A joined admin leaves; the chat stays with its counsellor and the visitor is told."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = ChatSession.get_or_none(ChatSession.id == chat_id)
        if chat is None or chat.status != "assigned" or chat.joined_by_id != admin.id:
            raise ChatError("You have not joined this chat.", 409)
        out.wake(chat, QUEUE)
        chat.joined_by = None
        chat.save(only=[ChatSession.joined_by])
        AgentSession.record(chat, "leave", agent=admin)
        _system(chat, translate(chat.language, "%(name)s has left the chat.", name=admin.name), agent=admin)
    return out


def return_to_bot(chat_id: int, agent: Agent) -> Outcome:
    """Give the chat back to the bot, which answers again until the next handoff."""
    out = Outcome()
    with db.atomic():
        _serialize(chat_id)
        chat = own(chat_id, agent)
        out.topics.add(agent_topic(agent.id))
        chat.status, chat.agent = "bot", None
        chat.save()
        AgentSession.record(chat, "return_to_bot", agent=agent)
        _system(chat, translate(chat.language,
                                "You're chatting with the EduConsult assistant again. Ask for a counsellor any time."))
        out.wake(chat, ROUTING, QUEUE)
    return out


def close_own(chat_id: int, agent: Agent, note: str = "") -> Outcome:
    """An agent ends one of their chats: ownership is checked under the same lock as the close."""
    with db.atomic():
        _serialize(chat_id)
        return close(own(chat_id, agent), agent, note)


def close(chat: ChatSession, agent: Agent | None = None, note: str = "", reason: str = "agent",
          text: str | None = None) -> Outcome:
    """End a chat, record its figures, and invite the visitor to rate it."""
    out = Outcome()
    with db.atomic():
        _serialize(chat.id)
        chat = ChatSession.get_by_id(chat.id)
        if chat.status == "closed":
            return out
        if chat.agent_id:
            out.topics |= {agent_topic(chat.agent_id), ROUTING}
        chat.status, chat.closed_at, chat.close_reason = "closed", now(), reason
        chat.save()
        AgentSession.record(chat, "close", agent=agent, note=note or None)
        if note:
            _system(chat, f"Closing note: {note}", internal=True, agent=agent)
        name = agent.name if agent else "EduConsult"
        _system(chat, text or translate(chat.language, CLOSED_TEXT, name=name), agent=agent)
        SessionAnalytics.record(chat)
        _event(out, "closed", chat)
        out.wake(chat, QUEUE)  # a waiting chat leaves the queue, an assigned one frees room on the team list
    return out


def rate(chat: ChatSession, score: int, comment: str = "") -> Outcome:
    """The visitor's one rating of a chat an agent or the service ended; one that they left themselves is not rated."""
    with db.atomic():
        rated = (ChatSession.update(rating=score, rating_comment=comment or None)
                 .where(ChatSession.id == chat.id, ChatSession.status == "closed", ChatSession.rating.is_null(),
                        ChatSession.close_reason.is_null() | (ChatSession.close_reason != "visitor")).execute())
        chat = ChatSession.get_by_id(chat.id)
        if not rated:
            if chat.rating is not None:
                raise ChatError(translate(chat.language, "You have already rated this chat. Thank you!"), 409)
            if chat.status == "closed":
                raise ChatError(translate(chat.language, "You ended this chat, so there is nothing to rate."), 409)
            raise ChatError(translate(chat.language, "You can rate a chat once it has ended."), 409)
        SessionAnalytics.update(rating=score).where(SessionAnalytics.session == chat).execute()
    return Outcome().wake(chat)


# The message boxes send a typing notice at most every this many seconds (`throttle:3s`), the last one at the end of
# the window: it can arrive after the message it was typing, and then says nothing about typing now.
TYPING_THROTTLE = timedelta(seconds=3)


def typing(chat: ChatSession, who: str) -> Outcome:
    field_name = "agent_typing_at" if who == "agent" else "visitor_typing_at"
    just_sent = Message.select().where((Message.session == chat.id) & (Message.sender == who)
                                       & (Message.created_at > now() - TYPING_THROTTLE))
    noted = ChatSession.update({field_name: now()}).where((ChatSession.id == chat.id) & ~fn.EXISTS(just_sent)).execute()
    return Outcome().wake(chat) if noted else Outcome()


def _passed_on_by(chat: ChatSession) -> int | None:
    """The agent who just sent this chat back to the queue; routing must not hand it straight back."""
    if not chat.priority:
        return None
    last = chat.history.order_by(AgentSession.id.desc()).first()
    return last.agent_id if last and last.action == "transfer" and last.target_agent_id is None else None


def _by_skill(skill: str, agents: list[Agent]) -> list[Agent]:
    """The agents with the skill, else the general counsellors, else all of them."""
    return ([a for a in agents if skill in a.skill_list] or [a for a in agents if "general" in a.skill_list]
            or agents)


def auto_assign(grace_seconds: float = 60.0) -> Outcome:
    """Give waiting chats, head of the queue first, to the online agent who speaks the chat's language and has
    its skill, with the most room."""
    out = Outcome()
    if not ChatSession.waiting().exists():
        return out  # the usual case: no write lock, no per-agent counts, every few seconds in every worker
    with _assign_lock, db.atomic():
        _serialize(0)
        agents = Agent.online(grace_seconds)
        if not agents:
            return out
        load = {a.id: a.open_chats().count() for a in agents}
        for chat in ChatSession.waiting():
            passed = _passed_on_by(chat)
            candidates = [a for a in agents if a.id != passed]
            speakers = [a for a in candidates if chat.language in a.language_list]
            free_speakers = [a for a in speakers if load[a.id] < a.max_chats]
            # The visitor's language first, among agents with room, then the skill. Where everyone online
            # speaks it, the skill alone decides, and a chat waits for an agent with its skill to free up.
            if free_speakers and len(speakers) < len(candidates):
                free = _by_skill(chat.skill, free_speakers)
            else:
                free = [a for a in _by_skill(chat.skill, candidates) if load[a.id] < a.max_chats]
            if not free:
                continue
            agent = max(free, key=lambda a: (a.max_chats - load[a.id], -a.id))
            try:
                sub = take(chat, agent, action="assign")
            except ChatError:
                continue
            load[agent.id] += 1
            out.topics |= sub.topics
            out.events += sub.events
    return out


def requeue_dropped(grace_seconds: float, agent_pk: int | None = None) -> Outcome:
    """Chats of agents (or of one agent) gone for longer than the grace period go back to the head of the queue."""
    out = Outcome()
    cutoff = now() - timedelta(seconds=grace_seconds)
    gone = Agent.select().where((Agent.last_seen_at < cutoff) | Agent.last_seen_at.is_null()
                                | (Agent.active == False))  # noqa: E712
    if agent_pk is not None:
        gone = gone.where(Agent.id == agent_pk)
    gone = (gone.join(ChatSession, on=(ChatSession.agent == Agent.id))
            .where(ChatSession.status == "assigned").distinct())
    for agent in gone:
        for chat in agent.open_chats():
            with db.atomic():
                _serialize(chat.id)
                moved = (ChatSession.update(status="waiting", agent=None, priority=1, queued_at=now())
                         .where(ChatSession.id == chat.id, ChatSession.status == "assigned",
                                ChatSession.agent == agent).execute())
                if moved:
                    if chat.joined_by_id:
                        out.topics.add(agent_topic(chat.joined_by_id))
                    AgentSession.record(chat, "requeue", agent=agent, note="counsellor disconnected")
                    _system(chat, translate(chat.language, "%(name)s was disconnected. You're back at the front "
                                            "of the queue.", name=agent.name))
                    out.topics |= {session_topic(chat.id), agent_topic(agent.id), QUEUE, ROUTING}
    return out


def close_idle(inactive_minutes: float, bot_hours: float) -> Outcome:
    """Close chats the visitor left: 15 minutes quiet with a human, 24 hours with the bot."""
    out = Outcome()
    stamp = now()
    cutoff = stamp - timedelta(minutes=inactive_minutes)
    # A counsellor's reply counts as activity too: "let me check" and a long look is not an abandoned chat.
    replied = Message.select(Message.id).where(Message.session == ChatSession.id, Message.sender == "agent",
                                               Message.internal == False, Message.created_at >= cutoff)  # noqa: E712
    quiet = ChatSession.select().where(
        ((ChatSession.status.in_(["assigned", "waiting"])) & (ChatSession.last_visitor_at < cutoff)
         & ~fn.EXISTS(replied))
        | ((ChatSession.status == "bot") & (ChatSession.last_visitor_at < stamp - timedelta(hours=bot_hours))))
    unused = ChatSession.select(ChatSession.id).where(
        ChatSession.status == "bot", ChatSession.created_at < stamp - timedelta(hours=bot_hours),
        ChatSession.id.not_in(ChatSession.engaged().select(ChatSession.id)))
    # A page view nobody wrote in is not a conversation: it is removed, not counted as closed.
    ChatSession.delete().where(ChatSession.id.in_(unused)).execute()
    for chat in quiet:
        if chat.status == "bot":
            sub = close(chat, reason="bot_idle",
                        text=translate(chat.language, "This chat was closed after a day without messages."))
        else:
            reason = "abandoned" if chat.status == "waiting" else "inactive"
            sub = close(chat, reason=reason, text=translate(
                chat.language, "This chat was closed because there were no new messages for a while. "
                "Start a new chat any time."))
        out.topics |= sub.topics
        out.events += sub.events
    return out


FOLLOWUP_TEXT = "Thank you. A counsellor will reply to %(email)s. Meanwhile the assistant can keep helping you here."


def leave_followup(chat: ChatSession, email: str, text: str, settings) -> Outcome:
    """While nobody can take the chat (checked here, in the transaction), the visitor leaves an email and a
    message; the bot has the chat again. Receipts to one address, and in all, are capped per day."""
    out = Outcome()
    with db.atomic():
        _serialize(chat.id)
        chat = ChatSession.get_by_id(chat.id)
        if chat.status != "waiting":
            raise ChatError(translate(chat.language,
                                      "You can leave a message for the counsellors while you wait in the queue."), 409)
        reason = unavailable(settings.office_hours, settings.timezone, settings.presence_grace_seconds)
        if reason is None:
            raise ChatError(translate(chat.language, "A counsellor is available now: please stay in the queue."), 409)
        followup = FollowUp.create(session=chat, email=email, text=text, reason=reason)
        if mail.receipt_allowed(email, settings.receipts_per_email, settings.receipts_per_day) \
                and mail.followup_receipt(followup):
            out.topics.add(OUTBOX)
        chat.status, chat.visitor_email = "bot", email
        chat.save()
        AgentSession.record(chat, "followup", note=text)
        _system(chat, translate(chat.language, FOLLOWUP_TEXT, email=email))
        _event(out, "followup", chat, text=text)  # FollowUp.latest(chat id) has the email and message
        out.wake(chat, QUEUE)
    return out


def followup_done(followup_id: int, agent: Agent) -> Outcome:
    """An agent has answered a follow-up, which leaves everyone's list."""
    with db.atomic():
        marked = (FollowUp.update(done_at=now(), done_by=agent)
                  .where(FollowUp.id == followup_id, FollowUp.done_at.is_null()).execute())
        followup = FollowUp.get_or_none(FollowUp.id == followup_id)
        if followup is None:
            raise ChatError("No such follow-up.", 404)
        if not marked:
            raise ChatError(f"{followup.done_by.name if followup.done_by else 'Someone'} already marked this done.", 409)
        if followup.session_id:
            AgentSession.record(followup.session_id, "followup_done", agent=agent, note=followup.email)
    return Outcome(topics={QUEUE})


def unavailable(hours: str, zone: str, grace_seconds: float) -> str | None:
    """Why no human can answer now: "closed" outside office hours, "offline" with no agent online; else None."""
    if not office_hours.is_open(hours, zone):
        return "closed"
    return None if Agent.online(grace_seconds) else "offline"
