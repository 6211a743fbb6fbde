"""Users and teams from the command line, and the demo accounts."""

import sqlalchemy as sa

from portal import passwords
from portal.db import db
from portal.models import AuditEvent
from portal.models import User


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_teams_and_users_made_listed_and_disabled(app):
    assert "Team Health is made" in invoke(app, "teams", "create", "Health").output
    made = invoke(app, "users", "create", "--email", "Ana@Health.gov", "--team", "Health",
                  "--role", "manager", "--password-stdin", input="a long enough secret\n")
    assert made.exit_code == 0, made.output
    assert "ana@health.gov can sign in as manager of Health" in made.output
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert user.password_hash.startswith("scrypt:")
        assert passwords.matches(user.password_hash, "a long enough secret")
    assert "ana@health.gov\tHealth\tmanager\tactive" in invoke(app, "users", "list").output
    assert "Health\t1 user(s)" in invoke(app, "teams", "list").output
    assert invoke(app, "users", "disable", "--email", "ana@health.gov").exit_code == 0
    assert "\tdisabled" in invoke(app, "users", "list").output
    with app.app_context():
        actions = db.session.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id)
                                     ).scalars().all()
    assert actions == ["team.create", "user.create", "user.disable"]


def test_the_password_prompt_asks_twice(app):
    invoke(app, "teams", "create", "Health")
    result = invoke(app, "users", "create", "--email", "bo@health.gov", "--team", "Health",
                    "--role", "viewer", input="another long secret\nanother long secret\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output


def test_mistakes_are_explained(app):
    invoke(app, "teams", "create", "Health")
    no_team = invoke(app, "users", "create", "--email", "x@y.gov", "--team", "Nope", "--role",
                     "viewer", "--password-stdin", input="a long enough secret\n")
    assert no_team.exit_code == 2 and "There is no team 'Nope'. Teams: Health." in no_team.output
    short = invoke(app, "users", "create", "--email", "x@y.gov", "--team", "Health", "--role",
                   "viewer", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    twice = invoke(app, "teams", "create", "Health")
    assert twice.exit_code == 2 and "already" in twice.output
    unknown = invoke(app, "users", "disable", "--email", "nobody@y.gov")
    assert unknown.exit_code == 2 and "no user" in unknown.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar() == 0


def test_demo_accounts_can_sign_in(app, monkeypatch):
    from portal import demo

    monkeypatch.setattr(demo, "CAMPAIGNS", (("Demo", 0, 10, 1, False),))
    result = invoke(app, "demo")
    assert "Sign in as admin@portal.demo" in result.output and demo.DEMO_PASSWORD in result.output
    client = app.test_client()
    response = client.post("/sign-in", data={"email": "viewer@health.demo",
                                             "password": demo.DEMO_PASSWORD})
    assert response.status_code == 302
    assert "Demo" in client.get("/").get_data(as_text=True)
    invoke(app, "demo")  # again: no second set of accounts
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar() == 5
