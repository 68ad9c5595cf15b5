"""`manage.py add_user` creates judge and staff accounts that can log in; `api_token` says how to create one."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from core.permissions import is_judge

pytestmark = pytest.mark.django_db


def _add(*args: str) -> str:
    out = io.StringIO()
    call_command("add_user", *args, stdout=out)
    return out.getvalue().rsplit(" ", 1)[-1].strip()


def test_a_judge_account_is_in_the_judges_group_and_logs_in_with_the_printed_password(client):
    password = _add("carol", "--judge")

    carol = User.objects.get(username="carol")
    assert is_judge(carol) and not carol.is_staff
    assert client.login(username="carol", password=password)


def test_a_staff_account_is_staff_and_not_a_judge(client):
    password = _add("dave", "--staff")

    dave = User.objects.get(username="dave")
    assert dave.is_staff and dave.is_superuser and not is_judge(dave)
    assert client.login(username="dave", password=password)


def test_an_existing_user_is_refused_unless_a_new_password_is_asked_for(client):
    _add("erin", "--judge")
    with pytest.raises(CommandError, match="exists already; add --reset-password"):
        _add("erin", "--judge")
    password = _add("erin", "--judge", "--reset-password")
    assert client.login(username="erin", password=password)


def test_api_token_for_a_missing_user_says_how_to_create_one():
    with pytest.raises(CommandError, match=r"No user named 'alice'\. Create a staff account first: manage.py add_user"):
        call_command("api_token", "alice", stdout=io.StringIO())


def test_the_readme_api_token_example_works_on_a_fresh_install():
    _add("alice", "--staff")
    out = io.StringIO()
    call_command("api_token", "alice", stdout=out, stderr=io.StringIO())
    assert len(out.getvalue().strip()) == 40
