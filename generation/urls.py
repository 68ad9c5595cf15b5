"""Staff pages of the generation app (namespaced "generation"); every view is staff-only."""

from __future__ import annotations

from django.urls import path

from core.permissions import staff_required
from generation import views

app_name = "generation"
urlpatterns = [
    path("corpora/", staff_required(views.corpus_list), name="corpus-list"),
    path("corpora/<int:pk>/", staff_required(views.corpus_detail), name="corpus-detail"),
    path("passages/<int:pk>/", staff_required(views.passage_detail), name="passage-detail"),
    path("passages/<int:pk>/text.txt", staff_required(views.passage_text), name="passage-text"),
    path("import/", staff_required(views.import_upload), name="import-upload"),
    path("imports/<int:pk>/", staff_required(views.import_detail), name="import-detail"),
    path("runs/", staff_required(views.run_list), name="run-list"),
    path("runs/new/", staff_required(views.run_new), name="run-new"),
    path("runs/<int:pk>/", staff_required(views.run_detail), name="run-detail"),
    path("pairs/<int:pk>/edit/", staff_required(views.pair_edit), name="pair-edit"),
    path("pairs/<int:pk>/reject/", staff_required(views.pair_reject), name="pair-reject"),
    path("datasets/", staff_required(views.dataset_list), name="dataset-list"),
    path("datasets/<int:pk>/", staff_required(views.dataset_detail), name="dataset-detail"),
    path("datasets/<int:pk>/export.<str:fmt>", staff_required(views.dataset_export), name="dataset-export"),
]
