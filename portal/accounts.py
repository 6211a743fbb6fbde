"""Users and teams: the rules both the admin pages and the CLI follow."""

import sqlalchemy as sa

from portal import passwords
from portal.models import ROLES
from portal.models import Team
from portal.models import User


class AccountProblem(ValueError):
    """Something about a new user or team that must be fixed; the message says what."""


def find_team(session, name):
    team = session.execute(sa.select(Team).where(Team.name == name.strip())).scalar()
    if team is None:
        names = ", ".join(session.execute(sa.select(Team.name).order_by(Team.name)).scalars())
        raise AccountProblem(f"There is no team {name!r}. Teams: {names or 'none yet'}.")
    return team


def create_team(session, name):
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise AccountProblem("A team name needs 1 to 120 characters.")
    if session.execute(sa.select(Team.id).where(Team.name == name)).first():
        raise AccountProblem(f"There is a team called {name!r} already.")
    team = Team(name=name)
    session.add(team)
    session.flush()
    return team


def create_user(session, email, team, role, password):
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or " " in email:
        raise AccountProblem(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise AccountProblem(f"The role must be one of {', '.join(ROLES)}.")
    problem = passwords.problem(password or "")
    if problem:
        raise AccountProblem(problem)
    if session.execute(sa.select(User.id).where(User.email == email)).first():
        raise AccountProblem(f"There is a user with the email {email} already.")
    user = User(email=email, team_id=team.id, role=role,
                password_hash=passwords.hash_password(password), active=True)
    session.add(user)
    session.flush()
    return user


def set_active(user, active):
    """Enable or disable a user; disabling also ends every session they have open."""
    user.active = active
    if not active:
        user.session_version += 1


def find_user(session, email):
    user = session.execute(sa.select(User).where(
        User.email == (email or "").strip().lower())).scalar()
    if user is None:
        raise AccountProblem(f"There is no user with the email {email!r}.")
    return user
