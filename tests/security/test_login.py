"""Sign-in: throttled per account and per address, the same answer for unknown ids, fresh sessions, real sign-outs."""
import asyncio
import hashlib
import os
import time
import uuid

import pytest
from starlette.testclient import TestClient

import limits
import routes.agent
from models import Agent, ChatSession
from routes.agent import DEVICE_COOKIE, _verify
from tests.conftest import PASSWORD, Browser, login
from tests.live import LiveBrowser

def login_form(app, address: str = "198.51.100.7") -> Browser:
    browser = Browser(TestClient(app, client=(address, 40000)).__enter__())
    browser.get("/agent/login")
    return browser


def sign_in(browser: Browser, agent_id: str, password: str):
    return browser.post("/agent/login", {"agent_id": agent_id, "password": password}, follow_redirects=False)


def guess(app, address: str, agent_id: str) -> int:
    """A wrong password from a browser used once. On PostgreSQL + Redis each browser is a worker of its own, whose
    threads keep their database connections while they live: closed at once, its threads end and the pool takes
    those back, where twenty browsers left open held more than the pool's 64."""
    browser = login_form(app, address)
    try:
        return sign_in(browser, agent_id, "guess").status_code
    finally:
        browser.client.__exit__(None, None, None)


@pytest.fixture
def clock(monkeypatch):
    """Time stands still unless a test moves it: waits are counted, never slept."""
    now = [time.time()]
    monkeypatch.setattr(limits.time, "time", lambda: now[0])
    return now


def waits(browser: Browser, agent_id: str, clock: list, attempts: int) -> list[int]:
    """Wrong passwords one after another, each as soon as the last wait allows: the waits asked for."""
    found = []
    for n in range(attempts):
        response = sign_in(browser, agent_id, f"guess-{n}")
        if response.status_code == 429:
            found.append(int(response.headers["retry-after"]))
            clock[0] += found[-1]
            assert sign_in(browser, agent_id, f"guess-{n}").status_code == 400
    return found


@pytest.mark.parametrize("agent_id", ["agent_001", "agent_999"])
def test_failures_double_the_wait_and_never_lock_the_right_password_out(app, clock, agent_id):
    browser = login_form(app)
    assert waits(browser, agent_id, clock, 8) == [1, 2, 4, 8, 16]  # three free, then doubling
    refused = sign_in(browser, agent_id, PASSWORD)
    assert refused.status_code == 429 and "Try again in 32 seconds" in refused.text
    clock[0] += 32
    assert sign_in(browser, agent_id, PASSWORD).status_code == (303 if agent_id == "agent_001" else 400)


def test_the_wait_has_a_ceiling(app, clock):
    browser = login_form(app)
    assert max(waits(browser, "agent_002", clock, 20)) == app.state.settings.login_max_delay_seconds


def test_passwords_are_stored_as_salted_scrypt_hashes(app):
    hashes = [a.password_hash for a in Agent.select()]
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes) and len(set(hashes)) == len(hashes)


def test_an_unknown_id_gets_the_same_answer_as_a_wrong_password(app):
    browser = login_form(app)
    known, unknown = sign_in(browser, "agent_001", "nope"), sign_in(browser, "agent_001x", "nope")
    strip = lambda r: r.text.replace(browser.token, "").replace("agent_001x", "agent_001")  # noqa: E731
    assert (known.status_code, strip(known)) == (unknown.status_code, strip(unknown))


def test_an_unknown_id_takes_as_long_as_a_wrong_password(app, monkeypatch):
    """The same work in both cases, counted rather than timed: one scrypt hash at the same cost."""
    def hashes(agent_id: str) -> list[tuple]:
        calls, scrypt = [], hashlib.scrypt
        with monkeypatch.context() as patch:
            patch.setattr(hashlib, "scrypt", lambda password, *, salt, n, r, p, dklen: (
                calls.append((len(salt), n, r, p, dklen)), scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen))[1])
            assert _verify(agent_id, "wrong password") is None
        return calls

    hashes("nobody")  # the stand-in hash is made once, on first use
    known = hashes("agent_001")
    assert hashes("nobody") == known == [(16, 2**14, 8, 1, 32)]  # a real, slow hash in both cases


def test_the_address_is_slowed_across_accounts(app, clock):
    browser = login_form(app)
    for n in range(10):  # three each on several real accounts: none of them slowed yet
        assert sign_in(browser, f"agent_00{n % 4 + 1}", f"guess-{n}").status_code == 400
    assert sign_in(browser, "agent_001", PASSWORD).status_code == 429
    assert sign_in(login_form(app, "203.0.113.9"), "agent_001", PASSWORD).status_code == 303


def test_failures_on_unknown_ids_do_not_slow_real_accounts(app, clock):
    browser = login_form(app)
    for n in range(30):
        sign_in(browser, f"agent_9{n:02}", "guess")
        clock[0] += 60
    assert sign_in(browser, "agent_9xx", "guess").status_code == 429  # the address, for ids of nobody
    assert sign_in(browser, "agent_002", PASSWORD).status_code == 303


def test_the_account_is_slowed_across_addresses(app, clock):
    for n in range(10):
        assert guess(app, f"203.0.113.{n}", "agent_003") == 400
    assert sign_in(login_form(app, "203.0.113.200"), "agent_003", PASSWORD).status_code == 429


def test_a_device_that_signed_in_before_is_not_slowed_by_the_accounts_failures(app, clock):
    owner = login_form(app, "192.0.2.1")
    assert sign_in(owner, "agent_003", PASSWORD).status_code == 303
    assert owner.client.cookies.get(DEVICE_COOKIE)
    owner.post("/agent/logout")
    for n in range(10):
        guess(app, f"203.0.113.{n}", "agent_003")
    assert sign_in(login_form(app, "192.0.2.1"), "agent_003", PASSWORD).status_code == 429  # a new browser waits
    owner.get("/agent/login")
    assert sign_in(owner, "agent_003", PASSWORD).status_code == 303


def test_a_device_cookie_is_for_its_own_account_and_cannot_be_forged(app, clock):
    owner = login_form(app, "192.0.2.1")
    assert sign_in(owner, "agent_003", PASSWORD).status_code == 303
    cookie = owner.client.cookies.get(DEVICE_COOKIE)
    owner.post("/agent/logout")
    for n in range(10):
        guess(app, f"203.0.113.{n}", "agent_002")
        guess(app, f"203.0.113.{n}", "agent_004")
    forged = login_form(app, "192.0.2.2")
    forged.client.cookies.set(DEVICE_COOKIE, cookie[:-4] + "AAAA", path="/agent")
    owner.get("/agent/login")
    assert sign_in(owner, "agent_002", PASSWORD).status_code == 429
    assert sign_in(forged, "agent_004", PASSWORD).status_code == 429


def test_a_success_clears_the_account_logs(app, clock):
    browser = login_form(app)
    for n in range(3):
        sign_in(browser, "agent_002", f"guess-{n}")
    assert sign_in(browser, "agent_002", PASSWORD).status_code == 429
    clock[0] += 1
    assert sign_in(browser, "agent_002", PASSWORD).status_code == 303
    assert sign_in(login_form(app), "agent_002", "guess").status_code == 400


def test_admins_see_and_clear_throttles(app, agent, clock):
    for n in range(10):
        guess(app, f"203.0.113.{n}", "agent_004")
    page = agent.get("/agent/admin/throttles")
    assert page.status_code == 200 and 'data-key="login:id:agent_004"' in page.text
    assert 'href="/agent/admin/throttles"' in agent.get("/agent/admin").text
    assert sign_in(login_form(app, "203.0.113.99"), "agent_004", PASSWORD).status_code == 429
    cleared = agent.post("/agent/admin/throttles/clear", {"key": "login:id:agent_004"}, follow_redirects=False)
    assert cleared.status_code == 303
    assert 'data-key="login:id:agent_004"' not in agent.get("/agent/admin/throttles").text
    assert sign_in(login_form(app, "203.0.113.99"), "agent_004", PASSWORD).status_code == 303


def test_only_admins_see_throttles(app, other_agent):
    assert other_agent.client.get("/agent/admin/throttles", follow_redirects=False).status_code in (303, 403)
    assert other_agent.post("/agent/admin/throttles/clear", {"key": "login:id:agent_002"}).status_code in (303, 403)


def test_sign_in_starts_a_fresh_session(app):
    browser = login_form(app)
    planted = dict(browser.client.cookies)
    old_token = browser.token
    assert sign_in(browser, "agent_001", PASSWORD).status_code == 303
    browser.get("/agent/dashboard")
    assert browser.token != old_token and dict(browser.client.cookies) != planted
    with TestClient(app, cookies=planted) as attacker:
        assert attacker.get("/agent/dashboard", follow_redirects=False).status_code == 303


def test_sign_out_ends_every_browser_of_that_agent(app, agent):
    second = login(app, "agent_001")
    assert second.post("/agent/logout", follow_redirects=False).status_code == 303
    assert agent.client.get("/agent/dashboard", follow_redirects=False).status_code == 303
    assert agent.post("/agent/status", {"status": "away"}).status_code == 401


def test_sign_out_leaves_colleagues_chats_alone(app, assigned_chat, other_agent):
    assert other_agent.post("/agent/logout", follow_redirects=False).status_code == 303
    chat = ChatSession.get_by_id(assigned_chat.id)
    assert chat.status == "assigned" and chat.agent.agent_id == "agent_001"


def test_sign_out_returns_my_chats_to_the_queue(app, assigned_chat, agent):
    agent.post("/agent/logout", follow_redirects=False)
    assert ChatSession.get_by_id(assigned_chat.id).status == "waiting"


def test_a_disabled_agent_is_signed_out(app, agent):
    Agent.update(active=False).where(Agent.agent_id == "agent_001").execute()
    assert agent.client.get("/agent/dashboard", follow_redirects=False).status_code == 303


def test_twelve_idle_hours_end_the_session_but_activity_keeps_it(app, agent, monkeypatch):
    start = time.time()
    for hours, status in [(11, 200), (22, 200), (33, 200), (45.5, 303)]:
        monkeypatch.setattr(routes.agent.time, "time", lambda: start + hours * 3600)
        assert agent.client.get("/agent/dashboard", follow_redirects=False).status_code == status


@pytest.mark.parametrize("how", ["sign-out", "password change"])
def test_ending_the_sign_in_elsewhere_closes_an_open_dashboard_stream(live_server, how):
    first = LiveBrowser.agent(live_server.url)
    stream = first.stream("/agent/events")
    second = LiveBrowser.agent(live_server.url)
    if how == "sign-out":
        assert second.post("/agent/logout").status_code == 303
    else:
        form = {"current_password": PASSWORD, "new_password": "another-long-one", "confirm_password": "another-long-one"}
        assert second.post("/agent/password", form).status_code == 200
    assert stream.ended.wait(30)
    assert first.http.get("/agent/events", timeout=30).status_code == 401


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_the_waits_and_the_admins_list_are_the_same_in_every_worker(shared, clock):
    async def run():
        client = None
        if shared:
            url = os.environ.get("HANDOFF_TEST_REDIS_URL") or pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
            import redis.asyncio
            client = redis.asyncio.from_url(url)
        prefix = f"test-{uuid.uuid4().hex[:8]}:"
        # Two workers: what one records, the other waits for (in one process, they are the same counter).
        here = limits.Counter(client, prefix=prefix)
        there = limits.Counter(client, prefix=prefix) if shared else here
        keys = [("login:id:agent_002@192.0.2.1", 3)]
        for _ in range(5):
            await limits.Backoff(here, 3600, 1, 900).fail(keys)
        wait = await limits.Backoff(there, 3600, 1, 900).wait(keys)
        listed = await limits.Backoff(there, 3600, 1, 900).throttled("login:", lambda key: 3)
        await there.forget(keys[0][0])
        cleared = await limits.Backoff(here, 3600, 1, 900).wait(keys)
        if client is not None:
            await client.aclose()
        return wait, [(row["key"], row["failures"]) for row in listed], cleared

    assert asyncio.run(run()) == (4.0, [("login:id:agent_002@192.0.2.1", 5)], 0.0)
