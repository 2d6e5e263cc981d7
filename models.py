"""Peewee models for sessions, messages, agents, assignments and analytics, with their queries."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from statistics import median

import yaml
from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JOIN,
    IntegrityError,
    Model,
    Select,
    TextField,
    Value,
    fn,
)

from database import Prepared, db


SKILL_NAMES = {
    "general": "General counselling",
    "us": "US universities",
    "uk": "UK universities",
    "tech": "Technical support",
}
DEFAULT_AGENTS = [
    ("agent_001", "Sarah Johnson", "general", "admin"),
    ("agent_002", "Michael Chen", "us", "agent"),
    ("agent_003", "Emma Williams", "uk", "agent"),
    ("agent_004", "David Kumar", "tech", "agent"),
]


def now() -> datetime:
    """Naive UTC, the one clock every table uses."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(stamp: datetime | None) -> str | None:
    """A stored naive-UTC time as ISO 8601 with a Z, for JSON."""
    return stamp.isoformat(timespec="seconds") + "Z" if stamp else None



def hash_password(password: str) -> str:
    """scrypt with a random salt; the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    n, r, p = 2**14, 8, 1
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against a stored scrypt hash."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash for unknown ids, so a miss costs the same time as a wrong password."""
    return hash_password(secrets.token_hex(8))


class BaseModel(Model):
    class Meta:
        database = db


class Agent(BaseModel):
    agent_id = CharField(unique=True)
    name = CharField()
    skills = CharField(default="general")  # comma-separated keys of SKILL_NAMES
    password_hash = CharField()
    role = CharField(default="agent")  # agent | admin
    status = CharField(default="online")  # chosen presence: online | away; offline is derived
    max_chats = IntegerField(default=4)
    active = BooleanField(default=True)
    last_seen_at = DateTimeField(null=True)  # touched by the dashboard's live connection
    epoch = IntegerField(default=0)  # bumped to end every signed-in browser of this agent
    email = CharField(null=True)  # where wait alerts go; set by an admin
    languages = CharField(default="en")  # comma-separated codes of i18n.NAMES: chats in these go to them first
    alerted_at = DateTimeField(null=True)  # when this agent's latest digest of waiting chats was queued

    @property
    def skill_list(self) -> list[str]:
        return [s for s in self.skills.split(",") if s]

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def presence(self, grace_seconds: float = 60.0) -> str:
        """online/away while the dashboard's connection was seen within the grace period, else offline."""
        if not self.active or self.last_seen_at is None or self.last_seen_at < now() - timedelta(seconds=grace_seconds):
            return "offline"
        return self.status

    def touch(self) -> None:
        Agent.update(last_seen_at=now()).where(Agent.id == self.id).execute()

    def still_here(self, grace_seconds: float) -> None:
        """A live staff page looked again: touched, but not on every look (a write each time would queue the
        streams behind the writers)."""
        if self.last_seen_at is None or self.last_seen_at < now() - timedelta(seconds=grace_seconds / 6):
            self.touch()

    def left(self, grace_seconds: float, back_within: float = 10.0) -> None:
        """The dashboard's stream ended: offline once `back_within` seconds pass with no stream (a reload, another
        tab) touching the agent again."""
        seen = now() - timedelta(seconds=max(0.0, grace_seconds - min(back_within, grace_seconds / 2)))
        Agent.update(last_seen_at=seen).where(Agent.id == self.id, Agent.last_seen_at > seen).execute()

    @classmethod
    def team(cls, grace_seconds: float) -> list[dict]:
        """Every active agent with their presence and open chats, for the dashboards."""
        load = dict(ChatSession.select(ChatSession.agent, fn.COUNT(ChatSession.id))
                    .where(ChatSession.status == "assigned").group_by(ChatSession.agent).tuples())
        return [{"agent": a, "presence": a.presence(grace_seconds), "load": load.get(a.id, 0),
                 "free": a.presence(grace_seconds) == "online" and load.get(a.id, 0) < a.max_chats}
                for a in cls.select().where(cls.active == True).order_by(cls.name)]  # noqa: E712

    def open_chats(self):
        return ChatSession.select().where(ChatSession.agent == self, ChatSession.status == "assigned")

    def desk(self):
        """The chats this agent's inbox shows: their own and those they joined as an admin."""
        return ChatSession.select().where((ChatSession.agent == self) | (ChatSession.joined_by == self),
                                          ChatSession.status == "assigned")

    def change_password(self, password: str) -> int:
        """Store a new hash and bump the epoch, which ends every other signed-in browser; the new epoch."""
        digest = hash_password(password)
        with db.atomic():
            Agent.update(password_hash=digest, epoch=Agent.epoch + 1).where(Agent.id == self.id).execute()
            self.epoch = Agent.select(Agent.epoch).where(Agent.id == self.id).scalar()
        return self.epoch

    @classmethod
    def online(cls, grace_seconds: float = 60.0) -> list["Agent"]:
        """Active agents who chose online and whose dashboard was seen within the grace period."""
        seen = now() - timedelta(seconds=grace_seconds)
        return list(cls.select().where(cls.active == True, cls.status == "online",  # noqa: E712
                                       cls.last_seen_at >= seen).order_by(cls.id))

    @classmethod
    def by_agent_id(cls, agent_id: str) -> "Agent | None":
        return cls.get_or_none(cls.agent_id == agent_id)

    @classmethod
    def seed_defaults(cls, password: str, max_chats: int = 4) -> bool:
        """Create the four default agents on an empty table; True when created."""
        if cls.select().exists():
            return False
        for agent_id, name, skill, role in DEFAULT_AGENTS:
            cls.create(agent_id=agent_id, name=name, skills=skill, role=role,
                       password_hash=hash_password(password), max_chats=max_chats, status="online")
        return True


class ChatSession(BaseModel):
    token = CharField(unique=True, default=lambda: secrets.token_urlsafe(24))
    status = CharField(default="bot", index=True)  # bot | waiting | assigned | closed
    reason = CharField(null=True)
    skill = CharField(default="general")
    agent = ForeignKeyField(Agent, null=True, backref="chats", on_delete="SET NULL")
    priority = IntegerField(default=0)  # requeued chats go back to the head of the queue
    created_at = DateTimeField(default=now, index=True)
    escalated_at = DateTimeField(null=True)
    queued_at = DateTimeField(null=True)
    assigned_at = DateTimeField(null=True)
    first_response_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    last_visitor_at = DateTimeField(default=now)
    visitor_typing_at = DateTimeField(null=True)
    agent_typing_at = DateTimeField(null=True)
    close_reason = CharField(null=True)  # agent | inactive | abandoned | bot_idle | visitor (left) | ended (by them)
    rating = IntegerField(null=True)
    rating_comment = TextField(null=True)
    visitor_email = CharField(null=True)
    wait_alerted_at = DateTimeField(null=True)  # when on-duty agents were emailed about this chat's wait
    language = CharField(null=True)  # ISO 639-1: of the visitor's messages, else chosen or their browser's
    page_url = CharField(max_length=500, null=True)  # the page of the website the chat is embedded in
    page_title = CharField(max_length=200, null=True)
    # An admin reading and writing beside the assigned counsellor; meaningful while the chat is assigned.
    joined_by = ForeignKeyField(Agent, null=True, backref="joined", on_delete="SET NULL")
    time_zone = CharField(max_length=64, null=True)  # the visitor's browser's IANA zone, for their local time
    country = CharField(max_length=80, null=True)  # a guess, from that zone else their browser's language region

    @classmethod
    def by_token(cls, token: str | None) -> "ChatSession | None":
        return _CHAT_BY_TOKEN.first(cls, token) if token else None

    @classmethod
    def by_id(cls, chat_id: int) -> "ChatSession | None":
        return _CHAT_BY_ID.first(cls, chat_id)

    @classmethod
    def lock_by_token(cls, token: str) -> int | None:
        """PostgreSQL: take the chat's transaction lock (the one conversation's actions take by its id), found
        by its token; the chat's id, or None."""
        row = _LOCK_BY_TOKEN.row(token)
        return row[0] if row else None

    def embedded_in(self, url: str, title: str) -> None:
        """The host page the visitor now chats from; written only when it changed."""
        if (self.page_url, self.page_title) != (url, title or None):
            self.page_url, self.page_title = url, title or None
            ChatSession.update(page_url=url, page_title=title or None).where(ChatSession.id == self.id).execute()

    def located(self, zone: str, country: str | None) -> None:
        """The visitor's time zone and the country it suggests, sent by their browser with a handoff; the first
        one a chat is sent stays."""
        ChatSession.update(time_zone=zone, country=country).where(ChatSession.id == self.id,
                                                                 ChatSession.time_zone.is_null()).execute()

    def visitor_wrote(self) -> None:
        """The visitor has sent a message, which also ends their typing."""
        self.last_visitor_at, self.visitor_typing_at = now(), None
        _VISITOR_WROTE.execute(self.last_visitor_at, self.id)

    @classmethod
    def waiting(cls):
        """The queue: requeued chats first, then longest-waiting first."""
        return (cls.select().where(cls.status == "waiting")
                .order_by(cls.priority.desc(), cls.queued_at.asc(), cls.id.asc()))

    @classmethod
    def queue_page(cls, size: int = 50) -> tuple[list["ChatSession"], int]:
        """The head of the queue, as the agents' list shows it, and how many wait in all."""
        return list(cls.waiting().limit(size)), cls.select().where(cls.status == "waiting").count()

    @classmethod
    def waiting_ids(cls) -> list[int]:
        """The queue's chat ids in order, as plain ints: every waiting visitor's position from one read."""
        return [row[0] for row in cls.waiting().select(cls.id).tuples()]

    def visible_messages(self):
        return Message.after(self, 0)

    def transcript(self):
        """Everything, internal notes included, for the agent's eyes."""
        return Message.with_agent().where(Message.session == self).order_by(Message.id)

    def visitor_history(self) -> list[dict]:
        """The latest six turns for the bot's decision, oldest first."""
        return [{"sender": sender, "text": text, "confidence": confidence, "offer": bool(offer)}
                for sender, text, confidence, offer in reversed(_HISTORY.rows(self.id))]

    def transferred_to_owner(self) -> "AgentSession | None":
        """The transfer that gave this chat to its agent, if that is how they got it: who, and their note."""
        last = (AgentSession.select().where(AgentSession.session == self,
                                            AgentSession.action.in_(["take", "assign", "transfer"]))
                .order_by(AgentSession.id.desc()).first())
        return last if last and last.action == "transfer" and last.target_agent_id == self.agent_id else None

    def earlier_chats(self, email: str | None, limit: int = 5):
        """This visitor's earlier chats, known by the email address they left."""
        if not email:
            return []
        return (ChatSession.select().where(ChatSession.visitor_email == email, ChatSession.id != self.id,
                                           ChatSession.created_at <= self.created_at)
                .order_by(ChatSession.id.desc()).limit(limit))

    def last_message_id(self) -> int:
        return self.messages.select(fn.MAX(Message.id)).scalar() or 0

    def typing(self, who: str, seconds: float = 6.0) -> bool:
        at = self.agent_typing_at if who == "agent" else self.visitor_typing_at
        return at is not None and at > now() - timedelta(seconds=seconds)

    def bot_turns(self) -> int:
        return self.messages.where(Message.sender == "bot").count()

    def as_dict(self) -> dict:
        """The chat for integrations (API, webhooks); never the visitor's token."""
        agent = self.agent
        return {
            "id": self.id, "status": self.status, "reason": self.reason, "skill": self.skill,
            "language": self.language,
            "agent": {"agent_id": agent.agent_id, "name": agent.name} if agent else None,
            **{name: iso(getattr(self, name)) for name in
               ("created_at", "escalated_at", "assigned_at", "first_response_at", "closed_at")},
            "close_reason": self.close_reason, "rating": self.rating, "rating_comment": self.rating_comment,
            "visitor_email": self.visitor_email,
        }

    @classmethod
    def search(cls, statuses: list[str] | None = None, agent: "Agent | None" = None, start: datetime | None = None,
               end: datetime | None = None, before_id: int | None = None, limit: int = 50):
        """Newest first, for the API: optional status, agent and [start, end) filters, keyset paging by id."""
        query = cls.select(cls, Agent).join(Agent, JOIN.LEFT_OUTER, on=(cls.agent == Agent.id))
        if statuses:
            query = query.where(cls.status.in_(statuses))
        if agent is not None:
            query = query.where(cls.agent == agent)
        if start is not None:
            query = query.where(cls.created_at >= start)
        if end is not None:
            query = query.where(cls.created_at < end)
        if before_id is not None:
            query = query.where(cls.id < before_id)
        return query.order_by(cls.id.desc()).limit(limit)

    @classmethod
    def closed_matching(cls, text: str = "", email: str = "", agent: "Agent | None" = None, reason: str = "",
                        start: datetime | None = None, end: datetime | None = None, rating: int | None = None):
        """Closed chats, newest first, filtered by a word in any message, the visitor's email, the agent, the
        handoff reason, the [start, end) of their start and their rating."""
        query = (cls.select(cls, Agent).join(Agent, JOIN.LEFT_OUTER, on=(cls.agent == Agent.id))
                 .where(cls.status == "closed"))
        if text:
            query = query.where(cls.id.in_(Message.select(Message.session).where(Message.text.contains(text))))
        if email:
            left = FollowUp.select(FollowUp.session).where(FollowUp.email.contains(email))
            query = query.where(cls.visitor_email.contains(email) | cls.id.in_(left))
        if agent is not None:
            handled = AgentSession.select(AgentSession.session).where(
                (AgentSession.agent == agent) | (AgentSession.target_agent == agent))
            query = query.where((cls.agent == agent) | cls.id.in_(handled))
        if reason:
            query = query.where(cls.reason == reason)
        if start is not None:
            query = query.where(cls.created_at >= start)
        if end is not None:
            query = query.where(cls.created_at < end)
        if rating is not None:
            query = query.where(cls.rating == rating)
        return query.order_by(cls.id.desc())

    @classmethod
    def engaged(cls):
        """Chats a visitor actually used (wrote in, or asked for a human), not every page view."""
        wrote = Message.select(Message.id).where(Message.session == cls.id, Message.sender == "visitor")
        return cls.select().where(cls.escalated_at.is_null(False) | fn.EXISTS(wrote))

    @classmethod
    def created_between(cls, start: datetime, end: datetime, agent: "Agent | None" = None):
        """Chats begun in [start, end), with their closing figures when closed, as dicts, for analytics."""
        query = (cls.select(cls.id, cls.created_at, cls.status, cls.reason, cls.agent, cls.rating,
                            cls.close_reason, cls.escalated_at, SessionAnalytics.outcome,
                            SessionAnalytics.wait_seconds, SessionAnalytics.first_response_seconds,
                            SessionAnalytics.handle_seconds)
                 .join(SessionAnalytics, JOIN.LEFT_OUTER, on=(SessionAnalytics.session == cls.id))
                 .where(cls.created_at >= start, cls.created_at < end, cls.id.in_(cls.engaged().select(cls.id))))
        if agent is not None:
            query = query.where(cls.agent == agent)
        return query.order_by(cls.id).dicts()


class Message(BaseModel):
    session = ForeignKeyField(ChatSession, backref="messages", on_delete="CASCADE")
    sender = CharField()  # visitor | bot | agent | system
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    text = TextField()
    created_at = DateTimeField(default=now)
    client_key = CharField(null=True, max_length=64)
    internal = BooleanField(default=False)
    confidence = FloatField(null=True)
    handoff = BooleanField(null=True)
    reason = CharField(null=True)
    entry = CharField(null=True)  # a bot reply's knowledge-base entry id
    choices = CharField(null=True)  # destination codes offered as buttons under a bot reply, comma-separated
    offer = BooleanField(null=True)  # a bot reply that offers a counsellor, so a "yes" in any language takes it up

    class Meta:
        indexes = ((("session", "client_key"), True), (("session", "id"), False))

    @property
    def choice_list(self) -> list[str]:
        return [code for code in (self.choices or "").split(",") if code]

    @classmethod
    def newest_id(cls) -> int:
        return cls.select(fn.MAX(cls.id)).scalar() or 0

    @classmethod
    def newest_ids(cls, session_id: int) -> tuple[int, int]:
        """A chat's newest message id, and its newest one the visitor sees (notes left out); 0 for none."""
        newest, shown = _NEWEST_IDS.row(session_id)
        return newest or 0, shown or 0

    @classmethod
    def chats_after(cls, last_id: int) -> tuple[dict[int, datetime], int]:
        """The chats with messages after `last_id`, each with its newest message's time, and the newest id."""
        rows = list(cls.select(cls.session, fn.MAX(cls.id), fn.MAX(cls.created_at))
                    .where(cls.id > last_id).group_by(cls.session).tuples())
        stamps = {chat: cls.created_at.python_value(at) for chat, _, at in rows}
        return stamps, max([last_id, *(newest for _, newest, _ in rows)])

    @classmethod
    def latest_from_visitor(cls, session_ids: list[int]) -> dict[int, str]:
        """Each chat's newest visitor message, for the queue's previews."""
        if not session_ids:
            return {}
        newest = (cls.select(fn.MAX(cls.id)).where(cls.session.in_(session_ids), cls.sender == "visitor")
                  .group_by(cls.session))
        return {m.session_id: m.text for m in cls.select(cls.session, cls.text).where(cls.id.in_(newest))}

    @classmethod
    def with_agent(cls):
        """Messages with their counsellor read alongside: rendering `message.agent.name` makes no query, which
        on the event loop would hold up every stream."""
        return cls.select(cls, Agent).join(Agent, JOIN.LEFT_OUTER, on=(cls.agent == Agent.id))

    @classmethod
    def after(cls, session, last_id: int, internal: bool = False):
        """What a stream has not sent yet, in order; agent streams also see notes."""
        query = cls.with_agent().where(cls.session == session, cls.id > last_id)
        if not internal:
            query = query.where(cls.internal == False)  # noqa: E712
        return query.order_by(cls.id)

    @classmethod
    def add(cls, session, sender: str, text: str, client_key: str | None = None, **fields) -> tuple["Message", bool]:
        """Store a message once per client key; (message, created). A repeated key (a retried POST) is left
        out by the unique index, without an error that would need a savepoint, and only then is the stored
        message read: nearly every key is new."""
        message = cls(session=session, sender=sender, text=text, client_key=client_key or None, **fields)
        message.id = _ADD_MESSAGE.insert(*(field.db_value(message.__data__.get(field.name))
                                           for field in _MESSAGE_COLUMNS))
        if message.id is None:
            existing = _MESSAGE_BY_KEY.first(cls, message.session_id, client_key) if client_key else None
            if existing is None:
                raise IntegrityError("The message was not stored.")
            return existing, False
        message._dirty.clear()
        return message, True

    @classmethod
    def for_export(cls, start: datetime, end: datetime, agent: "Agent | None" = None):
        """Every message of the chats begun in [start, end), chat by chat, each with its chat loaded."""
        query = (cls.select(cls, ChatSession).join(ChatSession)
                 .where(ChatSession.created_at >= start, ChatSession.created_at < end))
        if agent is not None:
            query = query.where(ChatSession.agent == agent)
        return query.order_by(ChatSession.id, cls.id)

    def as_dict(self) -> dict:
        return {"id": self.id, "sender": self.sender, "agent": self.agent.agent_id if self.agent_id else None,
                "text": self.text, "created_at": iso(self.created_at), "internal": self.internal,
                "confidence": self.confidence, "handoff": self.handoff, "reason": self.reason, "entry": self.entry}


# The statements of every message, their SQL written once (see Prepared).
_CHAT_BY_TOKEN = Prepared(lambda token: ChatSession.select().where(ChatSession.token == token), str)
_CHAT_BY_ID = Prepared(lambda chat: ChatSession.select().where(ChatSession.id == chat), int)
_LOCK_BY_TOKEN = Prepared(lambda token: ChatSession.select(ChatSession.id, fn.pg_advisory_xact_lock(ChatSession.id))
                          .where(ChatSession.token == token), str)
_VISITOR_WROTE = Prepared(lambda at, chat: ChatSession.update(last_visitor_at=at, visitor_typing_at=None)
                          .where(ChatSession.id == chat), datetime, int)
# Two lookups from the end of the (session, id) index: a MAX over a CASE would read every message of the chat.
_NEWEST_IDS = Prepared(lambda chat: Select(columns=[
    Message.select(fn.MAX(Message.id)).where(Message.session == chat),
    Message.select(Message.id).where(Message.session == chat, Message.internal == False)  # noqa: E712
    .order_by(Message.id.desc()).limit(1)]), int)
_HISTORY = Prepared(lambda chat: Message.select(Message.sender, Message.text, Message.confidence, Message.offer)
                    .where(Message.session == chat, Message.sender.in_(["visitor", "bot"]))
                    .order_by(Message.id.desc()).limit(6), int)
_MESSAGE_BY_KEY = Prepared(lambda chat, key: Message.select().where(Message.session == chat, Message.client_key == key),
                           int, str)
# A chat's messages in (after, upto], each with its counsellor's name, as a wake-up carries them (conversation._row).
MESSAGES_BETWEEN = Prepared(lambda chat, after, upto: Message.select(
    Message.id, Message.sender, Message.text, Message.created_at, Message.internal, Message.agent, Agent.name,
    Message.confidence, Message.handoff, Message.reason, Message.entry, Message.choices, Message.offer)
    .join(Agent, JOIN.LEFT_OUTER, on=(Message.agent == Agent.id))
    .where(Message.session == chat, Message.id > after, Message.id <= upto).order_by(Message.id), int, int, int)
_MESSAGE_COLUMNS = [field for field in Message._meta.sorted_fields if field.name != "id"]
# Values go in as the database stores them (Message.add converts them), hence Value without a converter.
_ADD_MESSAGE = Prepared(lambda *values: Message.insert({field: Value(value) for field, value in
                                                        zip(_MESSAGE_COLUMNS, values)}).on_conflict_ignore(),
                        *[str] * len(_MESSAGE_COLUMNS))


class AgentSession(BaseModel):
    """The assignment history: who did what to which chat, and when."""
    session = ForeignKeyField(ChatSession, backref="history", on_delete="CASCADE")
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    action = CharField()  # take | assign | transfer | requeue | return_to_bot | close | note | followup | followup_done | join | leave
    target_agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    note = TextField(null=True)
    created_at = DateTimeField(default=now)

    @classmethod
    def record(cls, session, action: str, agent=None, target_agent=None, note: str | None = None):
        return cls.create(session=session, action=action, agent=agent, target_agent=target_agent, note=note)


class SessionAnalytics(BaseModel):
    """Per-chat figures, written when a chat closes, read by the analytics pages."""
    session = ForeignKeyField(ChatSession, unique=True, backref="analytics", on_delete="CASCADE")
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    created_at = DateTimeField()
    closed_at = DateTimeField(null=True)
    wait_seconds = FloatField(null=True)
    first_response_seconds = FloatField(null=True)
    handle_seconds = FloatField(null=True)
    bot_turns = IntegerField(default=0)
    mean_confidence = FloatField(null=True)
    reason = CharField(null=True)
    outcome = CharField()  # bot_resolved | human_resolved | abandoned
    rating = IntegerField(null=True)

    @classmethod
    def record(cls, chat: ChatSession) -> "SessionAnalytics":
        """Derive the figures of a closed chat from its stored timestamps and messages."""
        def seconds(a, b):
            return (b - a).total_seconds() if a and b else None

        # A transfer moves assigned_at on; waits and handle times run from the first counsellor.
        assigned = (AgentSession.select(fn.MIN(AgentSession.created_at))
                    .where(AgentSession.session == chat, AgentSession.action.in_(["take", "assign"])).scalar())
        assigned = assigned or chat.assigned_at
        if chat.escalated_at is None:
            outcome = "bot_resolved"
        elif assigned is None or chat.close_reason == "abandoned":
            outcome = "abandoned"  # left while waiting, requeued chats included
        else:
            outcome = "human_resolved"
        confidence = (Message.select(fn.AVG(Message.confidence))
                      .where(Message.session == chat, Message.sender == "bot").scalar())
        values = dict(
            agent=chat.agent, created_at=chat.created_at, closed_at=chat.closed_at,
            wait_seconds=seconds(chat.escalated_at, assigned),
            first_response_seconds=seconds(assigned, chat.first_response_at),
            handle_seconds=seconds(assigned, chat.closed_at),
            bot_turns=chat.bot_turns(), mean_confidence=confidence, reason=chat.reason,
            outcome=outcome, rating=chat.rating,
        )
        row = cls.get_or_none(cls.session == chat)
        if row is None:
            return cls.create(session=chat, **values)
        cls.update(**values).where(cls.id == row.id).execute()
        return row

    @classmethod
    def recent_wait(cls, limit: int = 20) -> float | None:
        """Median of the latest waits for a human, for the visitor's estimate."""
        waits = [s.assigned_at - s.escalated_at for s in
                 ChatSession.select(ChatSession.escalated_at, ChatSession.assigned_at)
                 .where(ChatSession.assigned_at.is_null(False), ChatSession.escalated_at.is_null(False))
                 .order_by(ChatSession.assigned_at.desc()).limit(limit)]
        return median(w.total_seconds() for w in waits) if waits else None


class FollowUp(BaseModel):
    """A message a visitor left while no counsellor was available, to be answered by email."""
    session = ForeignKeyField(ChatSession, null=True, backref="followups", on_delete="SET NULL")
    email = CharField(max_length=254)
    text = TextField()
    reason = CharField(default="offline")  # offline (nobody online) | closed (outside office hours)
    created_at = DateTimeField(default=now)
    done_at = DateTimeField(null=True)
    done_by = ForeignKeyField(Agent, null=True, on_delete="SET NULL")

    @classmethod
    def pending(cls):
        """The "Follow up" list: not done yet, oldest first."""
        return cls.select().where(cls.done_at.is_null()).order_by(cls.created_at, cls.id)

    @classmethod
    def latest(cls, session_id: int) -> "FollowUp | None":
        return cls.select().where(cls.session == session_id).order_by(cls.id.desc()).first()


class CannedResponse(BaseModel):
    """A saved reply an agent inserts by typing "/" and its shortcut."""
    shortcut = CharField(unique=True, max_length=32)
    title = CharField(max_length=80)
    text = TextField()

    @classmethod
    def ordered(cls):
        return cls.select().order_by(cls.shortcut)

    @classmethod
    def seed(cls, path) -> None:
        """The shipped defaults (greeting, please hold, closing), on a fresh database."""
        with open(path, encoding="utf-8") as source:
            for entry in yaml.safe_load(source) or []:
                cls.get_or_create(shortcut=entry["shortcut"], defaults={"title": entry["title"], "text": entry["text"]})


class AuditLog(BaseModel):
    """Who did what outside a chat, and when: sign-ins, presence and admin changes."""
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    action = CharField()  # sign_in | sign_out | status | agent_* | password_reset | canned_* | kb_* | flag_*
    subject = CharField(null=True)  # the agent_id or shortcut acted on
    detail = TextField(null=True)
    created_at = DateTimeField(default=now, index=True)

    @classmethod
    def record(cls, agent, action: str, subject: str | None = None, detail: str | None = None) -> "AuditLog":
        return cls.create(agent=agent, action=action, subject=subject, detail=detail)

    @classmethod
    def recent(cls, limit: int = 100):
        return cls.select().order_by(cls.id.desc()).limit(limit)


class StaleEdit(Exception):
    """A knowledge-base entry changed after the admin's page showed it."""


class KnowledgeEntry(BaseModel):
    """The editable knowledge base: one answer for one destination and topic; the shipped YAML seeds it."""
    id = CharField(primary_key=True, max_length=80)
    country = CharField(default="any", index=True)  # a key of escalation.COUNTRIES, or "any"
    topic = CharField(default="", max_length=80)
    title = CharField(max_length=200)
    skill = CharField(default="general")
    questions = TextField(default="")  # one sample question per line
    keywords = TextField(default="")  # comma-separated
    answer = TextField()
    source = CharField(default="", max_length=500)
    checked = CharField(default="", max_length=7)  # YYYY-MM
    retired = BooleanField(default=False)
    revision = IntegerField(default=1)  # bumped by every change, so the table's sum tells workers to reload
    updated_at = DateTimeField(default=now)
    updated_by = ForeignKeyField(Agent, null=True, on_delete="SET NULL")  # None: as shipped

    FIELDS = ("country", "topic", "title", "skill", "questions", "keywords", "answer", "source", "checked")

    @property
    def question_list(self) -> list[str]:
        return [q for q in self.questions.splitlines() if q.strip()]

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.split(",") if k.strip()]

    @classmethod
    def version(cls) -> int:
        """Grows with every change to any entry (rows are retired, never deleted)."""
        return int(cls.select(fn.COALESCE(fn.SUM(cls.revision), 0)).scalar())

    @classmethod
    def live(cls):
        return cls.select().where(cls.retired == False).order_by(cls.id)  # noqa: E712

    @classmethod
    def listing(cls, query: str = "", country: str = "", retired: bool | None = None):
        """Entries by country and topic; `query` matches id, title, questions, keywords and answer."""
        select = cls.select()
        if query:
            select = select.where(cls.id.contains(query) | cls.title.contains(query) | cls.questions.contains(query)
                                  | cls.keywords.contains(query) | cls.answer.contains(query))
        if country:
            select = select.where(cls.country == country)
        if retired is not None:
            select = select.where(cls.retired == retired)
        return select.order_by(cls.country, cls.topic, cls.id)

    def change(self, agent: "Agent", revision: int, fields: dict | None = None, retired: bool | None = None) -> str:
        """Apply an admin's change, made to `revision` of the entry, and record it in the audit log; what changed,
        or "" for nothing. StaleEdit when the entry has changed since that revision: nothing is written."""
        changes = {k: v for k, v in (fields or {}).items() if getattr(self, k) != v}
        if retired is not None and retired != self.retired:
            changes["retired"] = retired
        if revision != self.revision:
            raise StaleEdit(self.id)
        if not changes:
            return ""
        if not KnowledgeEntry.update(**changes, revision=KnowledgeEntry.revision + 1, updated_at=now(),
                                     updated_by=agent).where(KnowledgeEntry.id == self.id,
                                                             KnowledgeEntry.revision == revision).execute():
            raise StaleEdit(self.id)
        action = {True: "kb_retire", False: "kb_restore"}.get(changes.get("retired"), "kb_update")
        detail = ", ".join(k for k in changes if k != "retired")
        AuditLog.record(agent, action, self.id, detail or None)
        return detail or action[3:]


class AnswerFlag(BaseModel):
    """An agent's report that a bot reply in a transcript was wrong, until an admin handles it."""
    message = ForeignKeyField(Message, backref="flags", on_delete="CASCADE")
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    comment = TextField(default="")
    created_at = DateTimeField(default=now)
    handled_at = DateTimeField(null=True, index=True)
    handled_by = ForeignKeyField(Agent, null=True, on_delete="SET NULL")

    @classmethod
    def listing(cls, handled: bool = False):
        """Open flags (or handled ones), newest first, each with its message read alongside."""
        select = cls.select(cls, Message).join(Message)
        select = select.where(cls.handled_at.is_null(False) if handled else cls.handled_at.is_null())
        return select.order_by(cls.id.desc())


class Outbox(BaseModel):
    """Webhooks and emails to send, written in the transaction that caused them, so a restart loses none."""
    kind = CharField()  # webhook | email
    event = CharField()  # escalated | assigned | transferred | closed | followup | wait_alert | followup_reply
    payload = TextField()  # JSON: a webhook's body without its id, or an email's to/subject/body
    created_at = DateTimeField(default=now)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=now, index=True)
    delivered_at = DateTimeField(null=True)
    failed_at = DateTimeField(null=True)  # gave up after the last attempt
    last_error = TextField(null=True)

    channels: set[str] = set()  # the kinds with somewhere to go; create_app fills it from the settings

    @classmethod
    def add(cls, kind: str, event: str, payload: dict) -> "Outbox | None":
        """Queue one delivery, inside the caller's transaction; None when that channel is not configured."""
        if kind not in cls.channels:
            return None
        return cls.create(kind=kind, event=event, payload=json.dumps(payload, separators=(",", ":")))

    @classmethod
    def webhook(cls, event: str, chat: ChatSession, **detail) -> "Outbox | None":
        body = {"event": event, "occurred_at": iso(now()), "session": chat.as_dict()}
        return cls.add("webhook", event, {**body, **({"detail": detail} if detail else {})})

    @classmethod
    def due(cls, limit: int = 20) -> list["Outbox"]:
        stamp = now()
        return list(cls.select().where(cls.delivered_at.is_null(), cls.failed_at.is_null(),
                                       cls.next_attempt_at <= stamp).order_by(cls.id).limit(limit))

    def claim(self, lease_seconds: float) -> bool:
        """Take this row for one attempt; another worker that read it too gets False."""
        taken = (Outbox.update(attempts=Outbox.attempts + 1, next_attempt_at=now() + timedelta(seconds=lease_seconds))
                 .where(Outbox.id == self.id, Outbox.delivered_at.is_null(),
                        Outbox.next_attempt_at == self.next_attempt_at).execute())
        self.attempts += 1
        return bool(taken)

    def release(self) -> None:
        """Give back a claimed row whose attempt was cut short, so it is due again now."""
        Outbox.update(next_attempt_at=now()).where(Outbox.id == self.id, Outbox.delivered_at.is_null()).execute()

    def finish(self, error: str | None, retry_seconds: float, max_attempts: int) -> None:
        """Delivered, or retried after retry_seconds doubling per attempt (at most an hour), or given up."""
        if error is None:
            Outbox.update(delivered_at=now(), last_error=None).where(Outbox.id == self.id).execute()
        elif self.attempts >= max_attempts:
            Outbox.update(failed_at=now(), last_error=error[:1000]).where(Outbox.id == self.id).execute()
        else:
            delay = min(retry_seconds * 2 ** (self.attempts - 1), 3600.0)
            Outbox.update(next_attempt_at=now() + timedelta(seconds=delay), last_error=error[:1000]).where(
                Outbox.id == self.id).execute()

    @classmethod
    def prune(cls, days: float = 7.0) -> int:
        """Forget deliveries done more than `days` ago; failed ones stay for inspection."""
        return cls.delete().where(cls.delivered_at < now() - timedelta(days=days)).execute()


TABLES = [Agent, ChatSession, Message, AgentSession, SessionAnalytics, FollowUp, CannedResponse, AuditLog, Outbox,
          KnowledgeEntry, AnswerFlag]


def create_tables() -> None:
    db.create_tables(TABLES, safe=True)
