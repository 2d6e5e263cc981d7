"""Cross-site request forgery: every state-changing route refuses a missing, wrong or foreign token and a foreign Origin."""
import pytest
from starlette.testclient import TestClient

from models import Message
from tests.conftest import Browser
from tests.security.conftest import FORM, fingerprint, unsafe_paths


@pytest.fixture
def stranger_token(app) -> str:
    """A valid token, but of another browser's session."""
    with TestClient(app) as client:
        other = Browser(client)
        other.get("/")
        return other.token


def forged_headers(variant: str, token: str, stranger: str) -> tuple[dict, str]:
    """The request's headers for one attack, and the refusal it must get."""
    return {
        "no token": ({}, "CSRF"),
        "empty token": ({"X-CSRF-Token": ""}, "CSRF"),
        "wrong token": ({"X-CSRF-Token": token[:-4] + "AAAA"}, "CSRF"),
        "another session's token": ({"X-CSRF-Token": stranger}, "CSRF"),
        "right token, foreign Origin": ({"X-CSRF-Token": token, "Origin": "https://evil.example"}, "Cross-origin"),
        "right token, look-alike Origin": ({"X-CSRF-Token": token, "Origin": "http://testserver.evil.example"},
                                           "Cross-origin"),
    }[variant]


VARIANTS = ["no token", "empty token", "wrong token", "another session's token", "right token, foreign Origin",
            "right token, look-alike Origin"]


@pytest.mark.parametrize("who", ["visitor", "agent"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_unsafe_route_refuses_a_forged_request(request, app, assigned_chat, stranger_token, who, variant):
    browser = request.getfixturevalue(who)
    headers, refusal = forged_headers(variant, browser.token, stranger_token)
    before = fingerprint()
    for path in unsafe_paths(app, assigned_chat.id):
        if path.startswith("/api/"):
            continue  # bearer-token API, no cookie to forge with; see test_access
        response = browser.client.post(path, data=FORM, headers=headers, follow_redirects=False)
        assert (path, response.status_code) == (path, 403) and refusal in response.text
    assert fingerprint() == before


@pytest.mark.parametrize("who", ["visitor", "agent"])
def test_a_forged_form_field_token_is_refused_too(request, app, assigned_chat, who):
    browser = request.getfixturevalue(who)
    before = fingerprint()
    for path in unsafe_paths(app, assigned_chat.id):
        if not path.startswith("/api/"):
            response = browser.client.post(path, data={**FORM, "csrf_token": "forged"}, follow_redirects=False)
            assert (path, response.status_code) == (path, 403)
    assert fingerprint() == before


@pytest.mark.parametrize("how", ["header", "form field", "header and same Origin"])
def test_the_right_token_is_accepted(visitor, how):
    headers = {"X-CSRF-Token": visitor.token} if how != "form field" else {}
    data = {"text": "Hello", **({"csrf_token": visitor.token} if how == "form field" else {})}
    if how == "header and same Origin":
        headers["Origin"] = "http://testserver"
    response = visitor.client.post("/chat/messages", data=data, headers=headers)
    assert response.status_code == 201 and Message.get(Message.sender == "visitor").text == "Hello"


def test_the_token_is_per_session(app, visitor):
    with TestClient(app) as client:
        other = Browser(client)
        other.get("/")
    assert other.token != visitor.token and len(visitor.token) >= 32
