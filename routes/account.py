"""The signed-in agent's own account: a password change that signs out every other browser."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from models import Agent, check_password
from realtime import agent_topic
from routes.agent import count_failure, login_keys, requires_agent, start_session, too_many_failures
from routes.common import form_data, render

MIN_PASSWORD = 10
MAX_PASSWORD = 256


def password_problem(current: str, new: str, confirm: str) -> str | None:
    """What is wrong with the new password, readable, or None."""
    if len(new) < MIN_PASSWORD:
        return f"Choose a new password of at least {MIN_PASSWORD} characters."
    if len(new) > MAX_PASSWORD:
        return f"Choose a new password of at most {MAX_PASSWORD} characters."
    if new != confirm:
        return "The two new passwords are not the same."
    if new == current:
        return "Choose a password different from the current one."
    return None


@requires_agent(page=True)
async def account_password_page(request: Request):
    return render(request, "agent/password.html", agent=request.state.agent, error=None, changed=False)


@requires_agent(page=True)
async def account_change_password(request: Request):
    agent: Agent = request.state.agent
    form = await form_data(request)
    current, new, confirm = (str(form.get(name, "")) for name in ("current_password", "new_password", "confirm_password"))

    def page(status: int, error: str | None = None, headers: dict | None = None):
        return render(request, "agent/password.html", status_code=status, agent=agent, error=error,
                      changed=error is None, headers=headers)

    # Guessing the current password from a borrowed browser counts as failed sign-ins for this account.
    keys = login_keys(request, agent.agent_id, known=True)
    refusal = await too_many_failures(request, keys)
    if refusal:
        return page(429, refusal[0], {"Retry-After": str(refusal[1])})
    if not await run_in_threadpool(check_password, current[:MAX_PASSWORD], agent.password_hash):
        await count_failure(request, keys)
        return page(400, "Your current password is not right.")
    problem = password_problem(current, new, confirm)
    if problem:
        return page(400, problem)
    await run_in_threadpool(agent.change_password, new)
    start_session(request.session, agent)  # this browser carries the new epoch; all others hold the old one
    request.app.state.hub.notify(agent_topic(agent.id))  # other browsers' open streams end now
    return page(200)


routes = [
    Route("/agent/password", account_password_page, name="account_password_page"),
    Route("/agent/password", account_change_password, methods=["POST"], name="account_change_password"),
]
