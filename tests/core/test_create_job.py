"""create_job is the one place jobs are made: it keeps the creator only when it is an account, and cuts
titles to the column's length so no caller has to."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from core.models import Job
from core.services.jobs import create_job

pytestmark = pytest.mark.django_db


def test_a_long_title_is_cut_to_the_column_length(alice):
    job = create_job("convert_model", {"model_id": 1}, user=alice, title="Convert " + "x" * 500, enqueue=False)
    stored = Job.objects.get(pk=job.pk)
    assert len(stored.title) == Job._meta.get_field("title").max_length and stored.title.startswith("Convert x")
    assert stored.created_by == alice


def test_an_anonymous_or_missing_user_is_stored_as_no_creator():
    for user in (None, AnonymousUser()):
        job = create_job("convert_model", {"model_id": 1}, user=user, enqueue=False)
        assert Job.objects.get(pk=job.pk).created_by is None
