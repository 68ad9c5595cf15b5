"""Import a corpus file (plain text, JSONL, CSV/TSV, SQuAD JSON) into a corpus, streamed and staged.

    manage.py import_passages /path/to/jsquad-valid-v1.3.json --format squad --corpus jsquad --language ja \
        --source jsquad --split-seed 13 --test-fraction 0.5
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from generation.importers.errors import CorpusImportError, then
from generation.importers.readers import FORMATS
from generation.services.imports import ImportOptions, ImportOptionsError, import_into_corpus_named


class Command(BaseCommand):
    help = "Import passages (and human QA pairs where the file has them) into a corpus."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="The file to import.")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS], help="Default: from the extension.")
        parser.add_argument("--corpus", required=True, help="Corpus name (created if missing).")
        parser.add_argument("--language", default="en", help="Language of a new corpus (en, ja, ...).")
        parser.add_argument("--source", default="", help="Source label of a new corpus (wikipedia, news, ...).")
        parser.add_argument("--text-column", default="text")
        parser.add_argument("--title-column", default="title", help="Empty string: no titles.")
        parser.add_argument("--id-column", default="id", help="Empty string: no ids.")
        parser.add_argument("--qas-column", default="qas", help="JSONL: field holding a list of question objects.")
        parser.add_argument("--question-column", default="", help="One row per question: the question column.")
        parser.add_argument("--answer-column", default="", help="One row per question: the answer column.")
        parser.add_argument("--delimiter", default="", help="CSV delimiter (default ',' or tab for .tsv; \\t = tab).")
        parser.add_argument("--keep-unanswerable", action="store_true", help="SQuAD 2.0: keep unanswerable questions.")
        parser.add_argument(
            "--split", default="", choices=["", "train", "validation", "test"], help="Mark all new passages."
        )
        parser.add_argument("--split-seed", type=int, default=None, help="Carve a seeded split grouped by article.")
        parser.add_argument("--validation-fraction", type=float, default=0.0)
        parser.add_argument("--test-fraction", type=float, default=0.0)

    def handle(self, *args, **opts) -> None:
        options = ImportOptions(
            format=opts["format"],
            text_column=opts["text_column"],
            title_column=opts["title_column"],
            id_column=opts["id_column"],
            qas_column=opts["qas_column"],
            question_column=opts["question_column"],
            answer_column=opts["answer_column"],
            delimiter=opts["delimiter"],
            keep_unanswerable=opts["keep_unanswerable"],
            split=opts["split"],
            split_seed=opts["split_seed"],
            validation_fraction=opts["validation_fraction"],
            test_fraction=opts["test_fraction"],
        )
        try:
            options.check()
        except ImportOptionsError as exc:
            raise CommandError(str(exc)) from None
        show = self.stderr.isatty() if hasattr(self.stderr, "isatty") else False

        def progress(figures: dict) -> None:
            total = figures["bytes_total"] or 1
            line = (
                f"\r{100 * figures['bytes_read'] / total:5.1f}%  {figures['passages_read']} passages read, "
                f"{figures['passages_created']} new"
            )
            if show or opts["verbosity"] > 1:
                sys.stderr.write(line)
                sys.stderr.flush()

        try:
            imp = import_into_corpus_named(
                opts["corpus"], opts["path"], options, language=opts["language"], source=opts["source"],
                progress=progress,
            )  # fmt: skip
        except CorpusImportError as exc:
            raise CommandError(then(exc.user_message, "Nothing from this file was stored.")) from None
        corpus = imp.corpus
        if show or opts["verbosity"] > 1:
            sys.stderr.write("\n")
        splits = ", ".join(f"{k} {v}" for k, v in imp.split_counts.items()) or "none"
        self.stdout.write(
            f"Imported {imp.file_name} into {corpus.name} (import #{imp.pk}): {imp.passages_read} passages read, "
            f"{imp.passages_created} new, {imp.passages_existing} already present; {imp.pairs_created} new reference "
            f"pairs, {imp.pairs_existing} known; {imp.skipped_unanswerable} unanswerable skipped; splits: {splits}."
        )
        if imp.title_kept:
            self.stdout.write(
                f"{imp.title_kept} passages keep their 'title [SEP] ' prefix in the text: a gold answer of "
                f"{imp.title_only_questions} questions occurs only in the title."
            )
