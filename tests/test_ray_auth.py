"""Which Ray token `sweep` sends to the clusters it joins, and the line for a cluster that refuses it."""

from __future__ import annotations

import os
import sys

import pytest

from sweep.runtime import token


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME of its own, no Ray authentication variables, and Ray not yet imported, as in a fresh `sweep`."""
    for key in (token.MODE_ENV, token.TOKEN_ENV, token.TOKEN_PATH_ENV):
        monkeypatch.setenv(key, "")  # recorded, so that what `adopt_local_token` sets is undone after the test
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delitem(sys.modules, "ray", raising=False)  # put back after the test
    return tmp_path


def _write_token(home, text="0123abcd"):
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text(text)


def test_a_token_file_left_by_a_local_ray_turns_sending_it_on(home):
    _write_token(home)
    token.adopt_local_token()
    assert os.environ[token.MODE_ENV] == "token"


def test_once_ray_is_imported_the_mode_is_left_as_this_process_read_it(home, monkeypatch):
    # Ray read its mode at import; a Ray this process started later would otherwise read another one.
    _write_token(home)
    monkeypatch.setitem(sys.modules, "ray", sys.modules.get("json"))
    token.adopt_local_token()
    assert token.MODE_ENV not in os.environ


def test_without_any_token_nothing_is_turned_on(home):
    token.adopt_local_token()
    assert token.MODE_ENV not in os.environ


def test_an_empty_token_file_is_no_token(home):
    _write_token(home, "\n")
    assert token.token_source() is None


def test_a_mode_the_user_chose_is_kept(home, monkeypatch):
    _write_token(home)
    monkeypatch.setenv(token.MODE_ENV, "disabled")
    token.adopt_local_token()
    assert os.environ[token.MODE_ENV] == "disabled"


def test_the_token_variable_and_the_named_file_are_found_as_ray_finds_them(home, monkeypatch, tmp_path):
    named = tmp_path / "cluster-token"
    named.write_text("feed")
    monkeypatch.setenv(token.TOKEN_PATH_ENV, str(named))
    assert token.token_source() == str(named)
    monkeypatch.setenv(token.TOKEN_ENV, "beef")
    assert token.token_source() == token.TOKEN_ENV


def test_a_refusal_says_what_to_set(home, monkeypatch):
    missing = token.refusal("http://h:8265", RuntimeError("Authentication required: Unauthorized: Missing token"))
    assert "has no token" in str(missing) and "RAY_AUTH_TOKEN" in str(missing) and "\n" not in str(missing)
    _write_token(home)
    wrong = token.refusal("http://h:8265", RuntimeError("Authentication failed: Forbidden: Invalid token"))
    assert "refused the token from" in str(wrong) and "auth_token" in str(wrong)
    monkeypatch.setenv(token.MODE_ENV, "disabled")
    disabled = token.refusal("http://h:8265", RuntimeError("Authentication required: Missing token"))
    assert "RAY_AUTH_MODE=disabled" in str(disabled)
