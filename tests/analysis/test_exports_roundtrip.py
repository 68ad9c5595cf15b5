"""Exports read back with pandas / pyarrow equal the database: judgments, items and the statistics summary."""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from analysis.services import exports, statistics
from analysis.services.pseudonyms import pseudonyms
from annotation.models import Judgment
from tests.analysis.stats_helpers import judge_session, make_judges, rejudge
from tests.annotation.helpers import items, make_session
from tests.support.stats_reference import flatten

pytestmark = pytest.mark.django_db

COMMENTS = ['fine, but "vague"', "two\nlines", "日本語のコメント、です", ""]


def read(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])
    if fmt == "jsonl":
        return pd.DataFrame([json.loads(line) for line in data.decode().splitlines()])
    return pq.read_table(io.BytesIO(data)).to_pandas()


def download(client, session, table: str, fmt: str, **params) -> bytes:
    response = client.get(reverse("api:session-export", args=[session.pk, table, fmt]), params)
    assert response.status_code == 200, response.content[:500]
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == exports.FORMATS[fmt]
    assert f'filename="session-{session.pk}-{table}' in response["Content-Disposition"]
    return b"".join(response.streaming_content)


@pytest.fixture
def session_with_judgments():
    judges = make_judges(3, prefix="rater")  # not "judge-…": pseudonyms start with that
    data = items(5)
    for i, item in enumerate(data):
        item.gold_answers = [f"gold {i}", f"alt, {i}"]
        item.metrics_a = {"exact_match": 1.0, "f1": 0.5 + i / 10, "bertscore_f1": 0.9 - i / 100}
        item.metrics_b = {"exact_match": 0.0, "f1": 0.25, "bleu_sentence": 12.5}
    session = make_session(n=5, k=3, judges=judges, items=data)
    counter = iter(range(1000))

    def decide(item, judge):
        n = next(counter)
        return (["correct", "partial", "incorrect"][n % 3], "correct", ["a", "tie", "b"][n % 3], COMMENTS[n % 4])

    judge_session(session, judges, decide)
    rejudge(Judgment.objects.filter(session=session).order_by("pk").first(), "incorrect", "incorrect", "tie")
    return session, judges


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_judgments_round_trip(alice_client, session_with_judgments, fmt):
    session, judges = session_with_judgments
    frame = read(download(alice_client, session, "judgments", fmt), fmt)
    names = pseudonyms(session, [judge.pk for judge in judges])
    rows = Judgment.objects.filter(session=session).select_related("item", "assignment").order_by("pk")
    assert list(frame["judgment_id"]) == [j.pk for j in rows]
    for (_, got), judgment in zip(frame.iterrows(), rows, strict=True):
        assert got["item_id"] == judgment.item_id and got["external_id"] == judgment.item.external_id
        assert got["judge"] == names[judgment.judge_id]
        assert (got["label_a"], got["label_b"], got["preference"]) == (
            judgment.label_a,
            judgment.label_b,
            judgment.preference,
        )
        assert (got["comment"] if isinstance(got["comment"], str) else "") == judgment.comment
        assert got["slot_a"] == ("right" if judgment.assignment.swapped else "left")
        assert got["system_a"] == session.system_a and got["revisions"] == judgment.revisions_count
        assert got["time_on_item_ms"] == judgment.time_on_item_ms
        assert pd.Timestamp(got["updated_at"]) == pd.Timestamp(judgment.updated_at)
        expected_preferred = {"a": session.system_a, "b": session.system_b, "tie": "tie"}[judgment.preference]
        assert got["preferred_system"] == expected_preferred
    assert frame["revisions"].max() == 2  # the edited judgment: its latest revision is what is exported
    assert set(frame["comment"].dropna()) >= set(COMMENTS[:3])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_items_round_trip(alice_client, session_with_judgments, fmt):
    session, _ = session_with_judgments
    frame = read(download(alice_client, session, "items", fmt), fmt)
    db = list(session.items.order_by("pk"))
    assert list(frame["item_id"]) == [item.pk for item in db]
    for (_, got), item in zip(frame.iterrows(), db, strict=True):
        gold = json.loads(got["gold_answers"]) if fmt == "csv" else list(got["gold_answers"])
        assert gold == item.gold_answers
        assert got["question"] == item.question and got["answer_b"] == item.answer_b
        assert got["f1_a"] == pytest.approx(item.metrics_a["f1"]) and got["bleu_sentence_b"] == 12.5
        assert pd.isna(got["bertscore_f1_b"])  # not scored for B
        assert got["n_judgments"] == 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_statistics_summary_round_trips(alice_client, session_with_judgments, fmt):
    session, judges = session_with_judgments
    frame = read(download(alice_client, session, "summary", fmt), fmt)
    result = statistics.statistics_for(session).result
    names = pseudonyms(session, [judge.pk for judge in judges])
    expected = flatten(statistics.with_judge_names(result, names))
    got = dict(zip(frame["metric"], zip(frame["value"], frame["text"], strict=True), strict=True))
    assert set(got) == set(expected)
    key = f"accuracy.{session.system_a}.by_majority.correct.rate"
    assert got[key][0] == pytest.approx(expected[key])
    assert got["judges.0.judge"][1] in names.values()
    assert any("strict plurality" in str(text) for _, text in got.values())


def test_judges_are_pseudonymised_by_default_and_staff_can_opt_in_to_usernames(alice_client, session_with_judgments):
    session, judges = session_with_judgments
    default = download(alice_client, session, "judgments", "csv").decode()
    again = download(alice_client, session, "judgments", "csv").decode()
    assert default == again  # stable pseudonyms
    assert not any(judge.username in default for judge in judges)
    assert "judge-" in default
    named = download(alice_client, session, "judgments", "csv", judges="usernames").decode()
    assert all(judge.username in named for judge in judges)
    other = make_session(n=1, k=1, judges=judges[:1])
    assert pseudonyms(other, [judges[0].pk]) != pseudonyms(session, [judges[0].pk])  # unlinkable across sessions


def test_exports_stream_chunk_by_chunk(alice_client, session_with_judgments, monkeypatch):
    session, _ = session_with_judgments
    monkeypatch.setattr(exports, "CHUNK_ROWS", 4)
    monkeypatch.setattr(exports, "PARQUET_ROW_GROUP_ROWS", 4)
    for fmt in ("csv", "jsonl", "parquet"):
        response = alice_client.get(reverse("api:session-export", args=[session.pk, "judgments", fmt]))
        chunks = [chunk for chunk in response.streaming_content if chunk]
        assert len(chunks) >= 4, fmt  # 15 judgments in chunks of 4 (plus the CSV header / Parquet footer)
    data = b"".join(alice_client.get(reverse("api:session-export", args=[session.pk, "judgments", "parquet"])))
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_row_groups == 4 and parquet.metadata.num_rows == 15


def test_unknown_tables_and_formats_are_refused_with_a_message(alice_client, session_with_judgments):
    session, _ = session_with_judgments
    response = alice_client.get(reverse("api:session-export", args=[session.pk, "judgments", "xlsx"]))
    assert response.status_code == 404 and "Unknown format 'xlsx'" in response.json()["detail"]
    response = alice_client.get(reverse("api:session-export", args=[session.pk, "people", "csv"]))
    assert response.status_code == 404 and "Unknown table 'people'" in response.json()["detail"]
