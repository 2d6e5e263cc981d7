"""Outgoing webhooks: the signed JSON body of an outbox row, posted to HANDOFF_WEBHOOK_URL."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from models import Outbox

USER_AGENT = "Handoff-Webhooks/1"


def sign(key: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a captured body cannot be replayed under a new timestamp."""
    return "sha256=" + hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: str, timestamp: str, body: bytes, signature: str, tolerance: float = 300.0) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(key, timestamp, body), signature)


def signed(row: Outbox, key: str) -> tuple[bytes, dict[str, str]]:
    """The body (the stored event plus its delivery id) and the headers for one attempt."""
    body = json.dumps({"id": row.id, **json.loads(row.payload)}, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    return body, {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Handoff-Event": row.event,
        "X-Handoff-Delivery": str(row.id),
        "X-Handoff-Timestamp": timestamp,
        "X-Handoff-Signature": sign(key, timestamp, body),
    }


async def post(client: httpx.AsyncClient, url: str, row: Outbox, key: str) -> str | None:
    """One delivery attempt; None when the receiver answered 2xx, else what went wrong."""
    body, headers = signed(row, key)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
