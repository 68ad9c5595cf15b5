"""The judging hot path stays a handful of queries (issue 12: next ran 16 and submit 10 before).

Counted on real transactions (`transactional_db`), so SQLite's `BEGIN IMMEDIATE` and the COMMIT count as the
queries they are; the session and the user come from a logged-in client as in production (cached_db sessions).
The JSON API and the HTML pages run the same services (membership(), the one-statement lease, submit()'s one
read and one write), so both are held to the same budget.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from tests.annotation.helpers import make_session
from tests.conftest import make_user

pytestmark = pytest.mark.sqlite_smoke  # the budgets / write path hold on the SQLite default too

NEXT_MAX = 4  # user, membership (+ checks, counts, held item), the one-statement lease, the item
HTML_NEXT_MAX = 3  # user, membership, the lease: then a redirect to the item's page
PAGE_MAX = 2  # user, the assignment with its session, item, judgment, judges-only rule and the judge's counts
# A submit is the user, one read (assignment, session, judgment, judges-only rule, repeated submission id),
# then one write: ONE statement, its own transaction. On PostgreSQL a data-modifying CTE (slot closed, judgment
# and revision inserted); on SQLite, which has no multi-table statement, an INSERT into a view whose trigger
# does the same writes (it was BEGIN IMMEDIATE, three writes and COMMIT: 7, a revision 6).
SUBMIT_MAX = {"postgresql": 3, "sqlite": 3}
REVISION_MAX = {"postgresql": 3, "sqlite": 3}
REPEAT_MAX = 2  # the same submission id again: user and the read, nothing written
# The page's POST is a submit and then the next item (membership and the lease), minus the second user read.
HTML_POST_MAX = {vendor: n + HTML_NEXT_MAX - 1 for vendor, n in SUBMIT_MAX.items()}
VOTE = {"left_label": "correct", "right_label": "incorrect", "preference": "left"}


@pytest.fixture
def judge_client(transactional_db, client, monkeypatch):
    # The open-item count is cached for PROGRESS_CACHE_SECONDS; its expiry is not under test here, and a
    # loaded machine must not turn one recount into a failure.
    monkeypatch.setattr("annotation.views.PROGRESS_CACHE_SECONDS", 600)
    judge = make_user("hotpath-judge", judge=True)
    client.force_login(judge)
    client.get("/")  # warm: the session is in the cache as after any first page
    return client, judge


def _submit(client, token: str, vote: dict):
    url = reverse("annotation:api-assignment", args=[token])
    return client.post(url, data=json.dumps(vote), content_type="application/json").json()


def test_json_next_and_submit_each_stay_within_their_budget(judge_client, django_assert_max_num_queries):
    client, judge = judge_client
    session = make_session(n=8, k=2, judges=[judge])
    next_url = reverse("annotation:api-next", args=[session.pk])
    client.post(next_url)  # first visit: joins the session, then the hot path; judge it and go on
    for i in range(4):
        with django_assert_max_num_queries(NEXT_MAX):
            shown = client.post(next_url).json()
        assert shown["done"] is False and shown["item"]["answers"]["left"]
        with django_assert_max_num_queries(SUBMIT_MAX[connection.vendor]):
            stored = _submit(client, shown["token"], {**VOTE, "submission_id": f"s{i}"})
        assert stored["stored"] is True and stored["created"] is True
    assert judge.judgments.count() == 4


def test_a_revision_and_a_repeated_submit_stay_within_their_budget(judge_client, django_assert_max_num_queries):
    client, judge = judge_client
    session = make_session(n=4, k=2, judges=[judge])
    token = client.post(reverse("annotation:api-next", args=[session.pk])).json()["token"]
    _submit(client, token, {**VOTE, "submission_id": "first"})
    with django_assert_max_num_queries(REVISION_MAX[connection.vendor]):
        revised = _submit(client, token, {**VOTE, "preference": "tie", "submission_id": "second"})
    assert revised["changed"] is True and revised["judgment"]["preference"] == "tie"
    with django_assert_max_num_queries(REPEAT_MAX):
        repeated = _submit(client, token, {**VOTE, "preference": "right", "submission_id": "second"})
    assert repeated["changed"] is False and repeated["judgment"]["preference"] == "tie"
    judgment = judge.judgments.get()
    assert (judgment.revisions_count, judgment.revisions.count()) == (2, 2)


def test_html_next_page_and_post_stay_within_the_api_budget(judge_client, django_assert_max_num_queries):
    client, judge = judge_client
    session = make_session(n=8, k=2, judges=[judge])
    next_url = reverse("annotation:judge-next", args=[session.pk])
    location = client.get(next_url)["Location"]  # first visit: joins, then the hot path
    client.get(location)  # the first page counts the open items (then cached)
    for i in range(3):
        with django_assert_max_num_queries(HTML_NEXT_MAX):
            again = client.get(next_url)
        assert again.status_code == 302 and again["Location"] == location  # the item in hand, lease renewed
        with django_assert_max_num_queries(PAGE_MAX):
            page = client.get(location)
        assert page.status_code == 200 and f"{i + 1} of" in page.content.decode()
        with django_assert_max_num_queries(HTML_POST_MAX[connection.vendor]):
            posted = client.post(location, {**VOTE, "submission_id": f"h{i}", "session": session.pk})
        assert posted.status_code == 302 and "/annotation/j/" in posted["Location"]
        assert posted["Location"] != location
        location = posted["Location"]
    assert judge.judgments.count() == 3


def test_an_invited_judge_pays_one_read_for_the_gate(transactional_db, django_assert_max_num_queries, monkeypatch):
    """The invitation gate reads the judge, their link, session and the session's recruitment settings in one
    query (two before), so an invited judge's page and POST cost one query more than an account judge's."""
    from annotation.services import invitations
    from tests.annotation.invite_helpers import PROLIFIC, open_url, session_with_recruitment, through_consent, visitor

    monkeypatch.setattr("annotation.views.PROGRESS_CACHE_SECONDS", 600)
    session = session_with_recruitment(n=6, k=2)
    link = invitations.create_link(session, "open", platform="prolific", completion_code="DONE-1")
    client = visitor()
    assert client.get(open_url(link, PROLIFIC)).status_code in (200, 302)
    through_consent(client)
    next_url = reverse("annotation:judge-next", args=[session.pk])
    location = client.get(next_url)["Location"]
    client.get(location)
    for i in range(2):
        with django_assert_max_num_queries(PAGE_MAX + 1):
            page = client.get(location)
        assert page.status_code == 200
        with django_assert_max_num_queries(HTML_POST_MAX[connection.vendor] + 1):
            posted = client.post(location, {**VOTE, "submission_id": f"inv{i}", "session": session.pk})
        assert posted.status_code == 302 and "/annotation/j/" in posted["Location"]
        location = posted["Location"]


def test_a_k_system_session_takes_the_same_hot_path(judge_client, django_assert_max_num_queries):
    from tests.annotation.test_hot_queries import _k_session

    client, judge = judge_client
    session = _k_session(judge, "all_pairs", n=4, k=3)
    next_url = reverse("annotation:judge-next", args=[session.pk])
    location = client.get(next_url)["Location"]
    client.get(location)
    for i in range(3):
        with django_assert_max_num_queries(HTML_POST_MAX[connection.vendor]):
            posted = client.post(location, {**VOTE, "submission_id": f"k{i}", "session": session.pk})
        assert posted.status_code == 302 and "/annotation/j/" in posted["Location"]
        location = posted["Location"]
    assert judge.judgments.count() == 3


# What the adaptive design's lease adds: a read of the judgments per pair newer than the ones already counted,
# before every lease on SQLite; on PostgreSQL the lease statement reads them itself, and a read comes first
# only when the process's counts are pair_counts.FRESH_SECONDS old (here: the first lease). The pair is chosen
# by the lease statement: no write of its own.
ADAPTIVE_EXTRA = {"postgresql": 1, "sqlite": 1}


def test_an_adaptive_k_system_session_pays_at_most_one_read_more(judge_client, django_assert_max_num_queries):
    """Under the adaptive design the first lease of a slot decides its pair. Before, it counted every judgment
    of the session at each first lease."""
    from tests.annotation.test_hot_queries import _k_session

    client, judge = judge_client
    session = _k_session(judge, "adaptive", n=6, k=4, pairs_per_item=1)
    next_url = reverse("annotation:judge-next", args=[session.pk])
    location = client.get(next_url)["Location"]
    client.get(location)
    for i in range(4):
        with django_assert_max_num_queries(HTML_POST_MAX[connection.vendor] + ADAPTIVE_EXTRA[connection.vendor]):
            posted = client.post(location, {**VOTE, "submission_id": f"a{i}", "session": session.pk})
        assert posted.status_code == 302 and "/annotation/j/" in posted["Location"]
        location = posted["Location"]
        with django_assert_max_num_queries(PAGE_MAX):  # the pair's two answers come with the page's one read
            assert client.get(location).status_code == 200
    assert judge.judgments.count() == 4


# A first visit: the user, membership (none yet), the judges-only rule, the session and may_judge, joining
# (participant: its look-up, may_judge again, the INSERT in a savepoint), then the hot path's membership and
# one-statement lease.
FIRST_VISIT_MAX = 12


@pytest.mark.parametrize("systems", [2, 4])
def test_a_first_visit_joins_and_then_leases_by_the_hot_path(
    systems, judge_client, django_assert_max_num_queries, monkeypatch
):
    from annotation.models import SessionJudge
    from annotation.services import assignment as assigning
    from tests.annotation.test_hot_queries import _k_session

    client, judge = judge_client
    session = make_session(n=4, k=2, judges=[judge]) if systems == 2 else _k_session(judge, "adaptive", n=4, k=4)

    def long_way(*args, **kwargs):
        raise AssertionError("the first visit went the long way")

    monkeypatch.setattr(assigning, "_lease", long_way)
    extra = ADAPTIVE_EXTRA[connection.vendor] if systems > 2 else 0  # the adaptive rule's counts read first
    with django_assert_max_num_queries(FIRST_VISIT_MAX + extra):
        response = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert response.status_code == 302 and "/annotation/j/" in response["Location"]
    assert SessionJudge.objects.filter(session=session, judge=judge).count() == 1
    assert client.get(response["Location"]).status_code == 200


def test_a_first_visit_to_a_closed_session_joins_nothing(judge_client):
    from annotation.models import SessionJudge

    client, judge = judge_client
    session = make_session(n=2, k=1, judges=[judge])
    session.is_open = False
    session.save(update_fields=["is_open"])
    response = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert response.status_code == 409
    assert not SessionJudge.objects.filter(session=session, judge=judge).exists()
