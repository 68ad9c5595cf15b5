"""Read-only API for analysis notebooks: sessions, their judgments and items (paginated), statistics,
experiment summaries and the streamed exports.

Authentication and permissions are the project defaults (settings.REST_FRAMEWORK): token or session
authentication, staff only (IsAdminUser), 500 rows per page. Judges are pseudonymised unless the request
says ``?judges=usernames``.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from analysis.models import LLMJudgeRun
from analysis.services import exports, llm_judging, ranking, statistics
from analysis.services.experiment_summary import experiment_summary
from analysis.services.judge_policy import counted_judgments, excluded_judges
from analysis.services.pseudonyms import display_names, session_judge_ids
from annotation.models import JudgingSession, Judgment, SessionItem
from core.models import JobStatus
from training.models import Experiment


def wants_usernames(request: Request) -> bool:
    """Staff opt in to real usernames; everything else gets the session's stable pseudonyms."""
    return request.query_params.get("judges") == "usernames"


def wants_excluded(request: Request) -> bool:
    """Judgment rows of judges the statistics leave out come only when asked for, flagged (counted: false)."""
    return request.query_params.get("excluded") == "include"


def named_result(session: JudgingSession, result: dict, *, usernames: bool) -> dict:
    names = display_names(session, statistics.named_judge_ids(result), usernames=usernames)
    return statistics.with_judge_names(result, names)


class Pages(PageNumberPagination):
    """The project's page size (settings.REST_FRAMEWORK["PAGE_SIZE"], read per request rather than at import),
    and ``?page_size=`` up to 5,000 for notebooks that would rather make fewer requests."""

    page_size_query_param = "page_size"
    max_page_size = 5000

    @property
    def page_size(self) -> int:
        return api_settings.PAGE_SIZE


class SessionSerializer(serializers.ModelSerializer):
    """A session with its counts. ``n_judgments`` counts what the statistics count: judgments of judges they
    leave out (``judge_policy.excluded_judges``) are not in it, and ``n_excluded_judges`` says how many judges
    that is (their rows come back with ``?excluded=include`` on the judgments pages and exports)."""

    n_items = serializers.IntegerField(read_only=True)
    n_judgments = serializers.SerializerMethodField()
    n_excluded_judges = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = JudgingSession
        fields = [
            "id", "name", "system_a", "system_b", "judges_per_item", "accuracy_labels", "ask_preference", "is_open",
            "is_demo", "source", "created_at", "n_items", "n_judgments", "n_excluded_judges", "links",
        ]  # fmt: skip

    def _excluded(self, session: JudgingSession) -> dict[int, str]:
        found = getattr(session, "_excluded_judges", None)
        if found is None:
            found = session._excluded_judges = excluded_judges(session)
        return found

    def get_n_judgments(self, session: JudgingSession) -> int:
        excluded = self._excluded(session)
        if not excluded:
            return session.n_judgments  # annotated by sessions_with_counts(): no query of its own
        return counted_judgments(session, excluded).count()

    def get_n_excluded_judges(self, session: JudgingSession) -> int:
        return len(self._excluded(session))

    def get_links(self, session: JudgingSession) -> dict[str, str]:
        request = self.context.get("request")

        def url(name: str, *args: object) -> str:
            path = reverse(name, args=[session.pk, *args])
            return request.build_absolute_uri(path) if request else path

        return {
            "judgments": url("api:session-judgments"),
            "items": url("api:session-items"),
            "statistics": url("api:session-statistics"),
            "llm_judges": url("api:session-llm-judges"),
            **{
                f"export_{table}_{fmt}": url("api:session-export", table, fmt)
                for table in exports.TABLES
                for fmt in exports.FORMATS
            },
        }


def _count_of(model) -> Coalesce:  # noqa: ANN001
    """Rows of ``model`` per session as a subquery (two joined counts would multiply items by judgments)."""
    per_session = model.objects.filter(session=OuterRef("pk")).order_by().values("session").annotate(n=Count("pk"))
    return Coalesce(Subquery(per_session.values("n"), output_field=IntegerField()), 0)


def sessions_with_counts():
    return JudgingSession.objects.annotate(n_items=_count_of(SessionItem), n_judgments=_count_of(Judgment)).order_by(
        "-created_at", "-id"
    )


class SessionList(generics.ListAPIView):
    serializer_class = SessionSerializer
    pagination_class = Pages

    def get_queryset(self):
        return sessions_with_counts()


class SessionDetail(generics.RetrieveAPIView):
    serializer_class = SessionSerializer

    def get_queryset(self):
        return sessions_with_counts()


class _RowList(generics.ListAPIView):
    """Paginated rows of an export table, in id order (stable pages while judging goes on)."""

    pagination_class = Pages

    def session(self) -> JudgingSession:
        if not hasattr(self, "_session"):
            self._session = get_object_or_404(JudgingSession, pk=self.kwargs["pk"])
        return self._session

    def list(self, request: Request, *args, **kwargs) -> Response:
        ids = self.paginate_queryset(self.get_queryset().values_list("pk", flat=True))
        return self.get_paginated_response(self.rows(list(ids)))


class SessionJudgments(_RowList):
    """The judgments the statistics count; ``?excluded=include`` adds those of excluded judges, flagged."""

    def excluded(self) -> dict[int, str]:
        if not hasattr(self, "_excluded"):
            self._excluded = excluded_judges(self.session())
        return self._excluded

    def get_queryset(self):
        include = wants_excluded(self.request)
        return exports.judgment_queryset(self.session(), self.excluded(), include_excluded=include).order_by("pk")

    def rows(self, ids: list[int]) -> list[dict]:
        session = self.session()
        names = display_names(session, session_judge_ids(session), usernames=wants_usernames(self.request))
        rows = exports.judgment_rows_for(session, ids, names, self.excluded())
        return exports.rows_as_dicts(exports.JUDGMENT_SCHEMA, rows)


class SessionItems(_RowList):
    def get_queryset(self):
        return SessionItem.objects.filter(session=self.session()).order_by("pk")

    def rows(self, ids: list[int]) -> list[dict]:
        return exports.rows_as_dicts(exports.ITEM_SCHEMA, exports.item_rows_for(self.session(), ids))


class SessionStatisticsView(APIView):
    """The statistics summary. 200 when current; 202 while a job computes it (with the job and, when there
    is one, the previous result marked stale); 409 when the job failed."""

    def get(self, request: Request, pk: int) -> Response:
        session = get_object_or_404(JudgingSession, pk=pk)
        try:
            state = statistics.statistics_for(session, user=request.user)
        except statistics.StatisticsError as exc:
            return Response({"status": "error", "detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        body: dict = {"status": state.status, "n_judgments": state.n_judgments}
        if state.job is not None:
            body["job"] = {"id": state.job.pk, "status": state.job.status, "error": state.job.error}
        if state.result is not None:
            body["statistics"] = named_result(session, state.result, usernames=wants_usernames(request))
        code = {"ready": 200, "computing": 202, "stale": 202}.get(state.status, 409)
        return Response(body, status=code)


class SessionLLMJudgesView(APIView):
    """The session's LLM judging runs: settings, run summary (flip rate, unparseable outputs) and, for finished
    runs, the agreement with the human judges. Kept under its own URL so no human figure or export holds an
    LLM verdict; judges are named like the statistics endpoint names them (pseudonyms unless asked)."""

    def get(self, request: Request, pk: int) -> Response:
        session = get_object_or_404(JudgingSession, pk=pk)
        runs = []
        for run in LLMJudgeRun.objects.filter(session=session).select_related("job", "judge_model"):
            row = {
                "id": run.pk,
                "model": run.judge_model.name,
                "job": {"id": run.job_id, "status": run.job.status},
                "votes": run.votes,
                "system_pairs": [list(pair) for pair in llm_judging.pair_names(run)],
                "verdict_mode": run.verdict_mode,
                "precision": run.precision,
                "dtype_used": run.dtype_used,
                "temperature": run.temperature,
                "response_prefix": run.response_prefix,
                "template": run.template_snapshot,
                "summary": run.summary,
                "agreement": None,
            }
            if run.job.status == JobStatus.SUCCEEDED:
                agreement = llm_judging.agreement(run, n_boot=1000)
                among = agreement["among_humans"]
                ids = [r["judge"] for r in among["judges"]]
                names = display_names(session, ids, usernames=wants_usernames(request))
                for judge_row in agreement["among_humans"]["judges"]:
                    judge_row["judge"] = names.get(judge_row["judge"], judge_row["judge"])
                for pair in agreement["among_humans"]["human_pairs"]:
                    pair["judges"] = [names.get(j, j) for j in pair["judges"]]
                row["agreement"] = agreement
            runs.append(row)
        return Response({"session": session.pk, "rules": list(llm_judging.run_rules()), "runs": runs})


class ExperimentSummaryView(APIView):
    def get(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(Experiment, pk=pk)
        summary = experiment_summary(experiment, user=request.user)
        systems = []
        for row in summary.rows:
            systems.append(
                {
                    "cell": row.cell.label,
                    "cell_id": row.cell.pk,
                    "evaluation_run": row.run.pk,
                    "automatic": {m["key"]: m["metric"] for m in row.metrics},
                    "human": [
                        {
                            "session": human.session.pk,
                            "as_system": "AB"[human.side],
                            "against": human.opponent,
                            "status": human.state.status if human.state else "error",
                            "accuracy": human.accuracy,
                            "bertscore_vs_human": human.correlation,
                            "item_metrics_on_judged_items": human.item_metrics,
                            "error": human.error,
                        }
                        for human in row.human
                    ],
                }
            )
        return Response({"experiment": experiment.pk, "name": experiment.name, "systems": systems})


class IgnoreAcceptHeader(BaseContentNegotiation):
    """Exports choose their own content type from the URL; an Accept: text/csv header must not yield 406."""

    def select_parser(self, request, parsers):  # noqa: ANN001, ANN201
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):  # noqa: ANN001, ANN201
        return renderers[0], renderers[0].media_type


class SessionExport(APIView):
    """A streamed export: /…/export/<table>.<csv|jsonl|parquet>[?judges=usernames][&excluded=include].

    Judges the statistics leave out are left out of every table (items count only counted judgments);
    ``excluded=include`` puts their judgment rows back, flagged."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAcceptHeader

    def get(self, request: Request, pk: int, table: str, fmt: str):  # noqa: ANN201
        session = get_object_or_404(JudgingSession, pk=pk)
        usernames = wants_usernames(request)
        summary = None
        if table == "summary":
            try:
                state = statistics.statistics_for(session, user=request.user)
            except statistics.StatisticsError as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
            if not state.fresh:
                job = state.job.pk if state.job else "?"
                detail = f"The statistics are being computed (job {job}); try again soon."
                return Response({"detail": detail, "status": state.status}, status=status.HTTP_409_CONFLICT)
            summary = named_result(session, state.result, usernames=usernames)
        ranking_result = None
        if table in ("ranking", "pairwise"):
            ranked = ranking.ranking_state(session, user=request.user)
            if not ranked.fresh:
                job = ranked.job.pk if ranked.job else "?"
                detail = f"The ranking is being computed (job {job}); try again soon."
                return Response({"detail": detail, "status": ranked.status}, status=status.HTTP_409_CONFLICT)
            ranking_result = ranked.result
        try:
            made = exports.export(
                session,
                table,
                fmt,
                usernames=usernames,
                summary=summary,
                include_excluded=wants_excluded(request),
                ranking_result=ranking_result,
            )
        except exports.ExportError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
        response = StreamingHttpResponse(made.chunks, content_type=made.content_type)
        response["Content-Disposition"] = f'attachment; filename="{made.filename}"'
        response["X-Judges"] = "usernames" if usernames else "pseudonyms"
        n_excluded = len(excluded_judges(session))
        if table == "judgments" and wants_excluded(request):
            response["X-Excluded-Judges"] = f"{n_excluded} included, flagged (counted=false)"
        else:
            response["X-Excluded-Judges"] = f"{n_excluded} left out, as in the statistics"
        return response
