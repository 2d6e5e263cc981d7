"""Handoff settings: one frozen dataclass read from HANDOFF_* environment variables."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from typing import Mapping

ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///handoff.db"
    redis_url: str = ""
    redis_prefix: str = "handoff:"  # keys and channel; lets several deployments share one Redis
    # For blocking work. Each thread keeps its own database connection (and SQLite its page cache), and the work
    # is bound by one core's interpreter lock, so a few suffice; on PostgreSQL a worker holds up to threads + 1.
    threads: int = 8
    # The bot decides in a process of its own beside each worker, on another core (decisions.py); off: in a thread
    decide_apart: bool = True
    secret_key: str = ""
    agent_password: str = ""
    api_token: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""  # signs webhook bodies; the secret key when unset
    smtp_url: str = ""  # smtp://user:pass@host:587?starttls=1, or smtps://host:465
    mail_from: str = "EduConsult <no-reply@localhost>"
    https: bool = False
    # Sites that may embed the visitor's chat (widget.js), e.g. "https://www.educonsult.example"; space or
    # comma separated. Empty: only pages of this server may frame it.
    embed_origins: str = ""
    # Outbox (webhooks and email): first retry after outbox_retry_seconds, doubling, at most an hour apart
    outbox_retry_seconds: float = 10.0
    outbox_max_attempts: int = 12
    outbox_poll_seconds: float = 5.0
    delivery_timeout_seconds: float = 10.0
    # Real time
    ping_seconds: float = 15.0
    send_timeout_seconds: float = 30.0
    max_streams_per_visitor: int = 5
    max_streams_per_address: int = 60  # an office or a campus shares one address: a room of visitors, not one
    # Limits
    max_message_chars: int = 2000
    max_body_bytes: int = 65536
    visitor_rate: int = 10
    visitor_rate_seconds: float = 10.0
    address_rate: int = 300
    address_rate_seconds: float = 60.0
    # Per client address: new chats (a first message or a handoff), handoffs, typing notices
    chat_rate: int = 20
    chat_rate_seconds: float = 600.0
    handoff_rate: int = 10
    handoff_rate_seconds: float = 600.0
    typing_rate: int = 300
    typing_rate_seconds: float = 60.0
    # Sign-in: after login_free_failures, each failure doubles the wait (from login_delay_seconds, at most
    # login_max_delay_seconds), per account and address and per address; failures are forgotten after the window
    login_free_failures: int = 3
    login_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 900.0
    login_window_seconds: float = 3600.0
    login_address_free_failures: int = 10
    # Mail: receipts of left messages per email address and per day, and all of them per day
    receipts_per_email: int = 3
    receipts_per_day: int = 200
    # Agents and chats
    agent_idle_hours: float = 12.0
    presence_grace_seconds: float = 60.0
    inactivity_close_minutes: float = 15.0
    bot_close_hours: float = 24.0
    default_max_chats: int = 4
    auto_assign: bool = True  # off: agents pick every chat from the queue by hand
    office_hours: str = ""  # e.g. "mon-fri 09:00-18:00, sat 10:00-14:00"; empty means always open
    timezone: str = "UTC"
    wait_alert_minutes: float = 5.0
    wait_alert_interval_minutes: float = 15.0  # at most one digest of waiting chats per agent this often
    sweep_seconds: float = 5.0

    @property
    def embedders(self) -> tuple[str, ...]:
        """The embedding origins, each checked to be scheme://host[:port]."""
        found = tuple(filter(None, (part.strip().rstrip("/") for part in self.embed_origins.replace(",", " ").split())))
        for origin in found:
            if not ORIGIN.match(origin):
                raise ValueError(f"HANDOFF_EMBED_ORIGINS: {origin!r} is not an origin like https://www.example.com")
        return found

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Read every field from HANDOFF_<FIELD>; keyword overrides win."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get("HANDOFF_" + f.name.upper())
            if raw is None:
                continue
            if f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)
