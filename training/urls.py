"""Staff-only URLs of the training app (namespace "training")."""

from __future__ import annotations

from django.urls import path

from core.permissions import staff_required
from training import views

app_name = "training"
urlpatterns = [
    path("runs/", staff_required(views.run_list), name="run-list"),
    path("runs/new/", staff_required(views.run_create), name="run-create"),
    path("runs/<int:pk>/", staff_required(views.run_detail), name="run-detail"),
    path("runs/<int:pk>/loss.svg", staff_required(views.run_loss_svg), name="run-loss-svg"),
    path("runs/<int:pk>/adapter.zip", staff_required(views.run_adapter_zip), name="run-adapter"),
    path("runs/<int:pk>/reader/", staff_required(views.run_register_reader), name="run-reader"),
    path("evaluations/new/", staff_required(views.evaluation_create), name="evaluation-create"),
    path("evaluations/<int:pk>/", staff_required(views.evaluation_detail), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/predictions.csv",
        staff_required(views.evaluation_predictions_csv),
        name="evaluation-predictions-csv",
    ),
    path("results/", staff_required(views.results_table), name="results"),
    path("results.csv", staff_required(views.results_csv), name="results-csv"),
    path("experiments/", staff_required(views.experiment_list), name="experiment-list"),
    path("experiments/<int:pk>/", staff_required(views.experiment_detail), name="experiment-detail"),
    path("experiments/<int:pk>/launch/", staff_required(views.experiment_launch), name="experiment-launch"),
    path("experiments/<int:pk>/cancel/", staff_required(views.experiment_cancel), name="experiment-cancel"),
    path("experiments/<int:pk>/retry/", staff_required(views.experiment_retry), name="experiment-retry"),
]
