"""Configuration from PORTAL_* variables; a wrong value stops start-up and says why."""

import subprocess
import sys

import pytest

from portal import config
from portal import create_app


def test_defaults(tmp_path):
    values = config.load({}, instance_path=str(tmp_path))
    assert values["PORTAL_DEFAULT_REGION"] == "SG"
    assert values["PORTAL_QUEUED_WARNING_HOURS"] == 2
    assert values["PORTAL_DATABASE_URL"] == f"sqlite:///{tmp_path}/portal.db"


@pytest.mark.parametrize("variable, value, expected", [
    ("PORTAL_DEFAULT_REGION", "XX", "two-letter region code"),
    ("PORTAL_SUPPORT_CONTACT", "call Bob", "e-mail address or an http(s) URL"),
    ("PORTAL_QUEUED_WARNING_HOURS", "soon", "positive number"),
    ("PORTAL_QUEUED_WARNING_HOURS", "-1", "positive number"),
    ("PORTAL_DATABASE_URL", "mysql://db", "sqlite:///"),
    ("PORTAL_LOG_LEVEL", "LOUD", "DEBUG, INFO"),
    ("PORTAL_TWILIO_API_URL", "http://twilio.example.com", "http:// only on this machine"),
    ("PORTAL_TWILIO_API_URL", "https://api.example.com/2010-04-01", "without a path"),
])
def test_a_wrong_value_names_the_variable_and_what_it_expects(variable, value, expected):
    with pytest.raises(config.ConfigError) as raised:
        config.load({variable: value})
    assert raised.value.message.startswith(f"{variable}={value!r} is not valid")
    assert expected in raised.value.message


def test_a_plain_postgresql_url_is_read_with_psycopg():
    values = config.load({"PORTAL_DATABASE_URL": "postgresql://portal@db.internal/portal"})
    assert values["PORTAL_DATABASE_URL"] == "postgresql+psycopg://portal@db.internal/portal"


def test_the_app_refuses_to_start(monkeypatch):
    monkeypatch.setenv("PORTAL_DEFAULT_REGION", "Narnia")
    with pytest.raises(config.ConfigError):
        create_app()


def test_the_cli_prints_the_message_without_a_traceback(tmp_path):
    env = {"PORTAL_DEFAULT_REGION": "Narnia", "PATH": "", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "routes"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "PORTAL_DEFAULT_REGION='Narnia' is not valid" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_local_stand_in_for_twilio_may_be_reached_over_http():
    for base in ("http://127.0.0.1:8900", "http://localhost:8900/", "https://twilio.internal"):
        assert config.load({"PORTAL_TWILIO_API_URL": base})["PORTAL_TWILIO_API_URL"] == \
            base.rstrip("/")


def test_the_instance_folder_moves_and_must_be_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    app = create_app()
    assert app.instance_path == str(tmp_path / "elsewhere")
    assert app.config["PORTAL_DATABASE_URL"] == f"sqlite:///{tmp_path}/elsewhere/portal.db"
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", "relative/folder")
    with pytest.raises(config.ConfigError) as raised:
        create_app()
    assert "PORTAL_INSTANCE_PATH='relative/folder' is not valid" in raised.value.message
    assert "absolute path" in raised.value.message
