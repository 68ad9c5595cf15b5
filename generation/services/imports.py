"""Importing a corpus file: stream it in chunks into a staging Import, then make it visible at once.

Why staging instead of one transaction: a 100 MB file held in one transaction would hide its progress and,
on SQLite, lock every judge out for minutes. Each chunk of passages is written in its own short
transaction with the Import row's counters (so progress is visible through autocommit); the passages
belong to an Import whose status is "running" and the default managers hide them until the final, single
row update turns the Import "complete". A failure (bad record, cancellation) deletes the staged rows, so a
failed import stores nothing but the Import row that says why.

Re-importing finds passages by content hash (whitespace-normalised text) in the corpus and skips them;
reference pairs for an existing passage are added only when new (same id, or same question without id).
A restarted import (worker died, retry) bumps Import.attempt, drops what the earlier attempt staged and
starts over; a chunk writer that finds a newer attempt stops without writing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core.permissions import recorded_user
from core.services.bulk import chunked
from core.services.text import unstorable_reason
from generation.importers.errors import CorpusImportError, then
from generation.importers.readers import FORMATS, Columns, PassageRecord, ReadStats, read_corpus
from generation.importers.splits import SplitSpec, split_counts, split_groups
from generation.models import (
    VISIBLE_PASSAGE,
    VISIBLE_REFERENCE,
    Corpus,
    Import,
    Passage,
    ReferenceQA,
    Split,
    content_hash,
)
from generation.validation import duplicate_key
from qasynth_lib.files import atomic_write

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
PRECHECK_RECORDS = 500

ProgressFn = Callable[[dict[str, Any]], None]


class ImportSuperseded(Exception):
    """A newer attempt of the same import has started; this writer must stop and touch nothing."""


class CorpusRemoved(CorpusImportError):
    """The import's new corpus was removed after its file proved malformed: there is nothing to retry into."""


class ImportOptionsError(ValueError):
    """The import settings themselves are wrong (not the file)."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read the file and how to split it. Column names are the JSONL keys / CSV header names."""

    format: str = "auto"
    text_column: str = "text"
    title_column: str = "title"
    id_column: str = "id"
    qas_column: str = "qas"
    question_column: str = ""
    answer_column: str = ""
    delimiter: str = ""
    keep_unanswerable: bool = False
    split: str = ""  # every new passage gets this split ("" = unsplit) unless a seeded split is carved
    split_seed: int | None = None  # carve a seeded train/validation/test split grouped by article
    validation_fraction: float = 0.0
    test_fraction: float = 0.0

    def errors(self) -> list[str]:
        problems = []
        if self.format not in ("auto", *FORMATS):
            problems.append(f"unknown format {self.format!r}; use one of auto, {', '.join(FORMATS)}")
        if not self.text_column.strip():
            problems.append("the text column must be named")
        if self.split not in Split.values:
            problems.append(f"unknown split {self.split!r}; use train, validation or test")
        if self.split_seed is not None:
            if self.split:
                problems.append("give either a fixed split or a seeded split, not both")
            fractions = (self.validation_fraction, self.test_fraction)
            if any(f < 0 or f > 1 for f in fractions) or sum(fractions) > 1 + 1e-9:
                problems.append("validation and test fractions must be between 0 and 1 and sum to at most 1")
        if self.delimiter and len(self.delimiter) != 1:
            problems.append("the CSV delimiter must be one character (\\t for tab)")
        return problems

    def check(self) -> None:
        problems = self.errors()
        if problems:
            raise ImportOptionsError("; ".join(problems))

    def columns(self, fmt: str) -> Columns:
        return Columns(
            text=self.text_column.strip(),
            title=self.title_column.strip() or None,
            id=self.id_column.strip() or None,
            qas=(self.qas_column.strip() or None) if fmt == "jsonl" else None,
            question=self.question_column.strip() or None,
            answer=self.answer_column.strip() or None,
        )

    def split_spec(self) -> SplitSpec | None:
        if self.split_seed is None:
            return None
        train = max(0.0, 1.0 - self.validation_fraction - self.test_fraction)
        return SplitSpec(
            train=train, validation=self.validation_fraction, test=self.test_fraction, seed=self.split_seed
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def resolve_format(path: str | Path, options: ImportOptions) -> str:
    from generation.importers.readers import detect_format

    return detect_format(path) if options.format == "auto" else options.format


def open_records(path: str | Path, options: ImportOptions, *, progress=None, stats: ReadStats | None = None):
    fmt = resolve_format(path, options)
    if fmt == "csv":
        from generation.importers.readers import read_csv

        delimiter = "\t" if options.delimiter in ("\\t", "tab") else (options.delimiter or None)
        records = read_csv(path, columns=options.columns(fmt), delimiter=delimiter, progress=progress, stats=stats)
    else:
        records = read_corpus(
            path,
            fmt,
            columns=options.columns(fmt),
            keep_unanswerable=options.keep_unanswerable,
            progress=progress,
            stats=stats,
        )
    return storable(records, path)


def storable(records: Iterable[PassageRecord], path: str | Path):
    """Pass records through, refusing one whose text could not be stored, with its place in the file: the
    database would otherwise reject the whole chunk with an error that names no line."""
    for record in records:
        fields = [("text", record.text), ("title", record.title), ("id", record.external_id)]
        for number, qa in enumerate(record.qas, start=1):
            fields += [(f"question {number}", qa.question), (f"question {number} id", qa.id)]
            fields += [(f"question {number} answer", answer) for answer in qa.answers]
        for name, value in fields:
            problem = unstorable_reason(value)
            if problem:
                where = {"line": record.line} if record.line is not None else {"record": record.position + 1}
                raise CorpusImportError(
                    path, f"the {name} contains {problem}", hint="Remove it from the file and upload it again", **where
                )
        yield record


# ------------------------------------------------------------------------------------------ files


@dataclass(frozen=True)
class StoredFile:
    path: Path
    name: str
    size: int
    sha256: str


_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


def uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def store_upload(uploaded, *, name: str | None = None) -> StoredFile:
    """Copy an uploaded file (Django UploadedFile or any object with .chunks()/.read()) to the data dir,
    hashing it on the way; never holds the whole file in memory."""
    original = name or getattr(uploaded, "name", "") or "upload"
    safe = _SAFE_NAME_RE.sub("_", Path(original).name).strip("._") or "upload"
    folder = uploads_dir() / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    target = folder / safe
    digest = hashlib.sha256()
    size = 0
    chunks: Iterable[bytes] = (
        uploaded.chunks() if hasattr(uploaded, "chunks") else iter(lambda: uploaded.read(1 << 20), b"")
    )
    try:  # a full disk or read-only data dir leaves no half-written copy behind (OSError goes to the caller)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as handle:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StoredFile(target, Path(original).name, size, digest.hexdigest())


def discard_upload(path: str | Path) -> None:
    """Remove an uploaded copy and its per-upload folder; files imported in place are never touched."""
    path = Path(path)
    if not is_uploaded(path):
        return
    path.unlink(missing_ok=True)
    folder = path.parent
    if folder.resolve() != uploads_dir().resolve():
        try:
            folder.rmdir()  # only when empty: never removes anything else
        except OSError:
            pass


def describe_file(path: str | Path) -> StoredFile:
    """Size and hash of a file imported in place (management command)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusImportError(path, "file not found")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return StoredFile(path, path.name, path.stat().st_size, digest.hexdigest())


def is_uploaded(path: str | Path) -> bool:
    try:
        Path(path).resolve().relative_to(uploads_dir().resolve())
        return True
    except ValueError:
        return False


def precheck(path: str | Path, options: ImportOptions, *, records: int = PRECHECK_RECORDS) -> int:
    """Read the first records so an obviously wrong file or column is reported at upload time.

    Raises CorpusImportError (or ImportOptionsError); returns how many records were read."""
    options.check()
    return sum(1 for _ in islice(open_records(path, options), records))


# ------------------------------------------------------------------------------------------ creating


def get_or_create_corpus(
    name: str, *, language: str = "en", source: str = "", description: str = ""
) -> tuple[Corpus, bool]:
    """The corpus called `name`, and whether this call created it (its import then owns it until complete)."""
    return Corpus.objects.get_or_create(
        name=name.strip(), defaults={"language": language, "source": source, "description": description}
    )


def create_import(
    corpus: Corpus,
    stored: StoredFile,
    options: ImportOptions,
    *,
    user=None,
    fmt: str | None = None,
    created_corpus: bool = False,
) -> Import:
    """The Import row for a stored file. created_corpus: the corpus was made for this upload, so a malformed
    file removes it again rather than leave an empty corpus behind."""
    options.check()
    return Import.objects.create(
        corpus=corpus,
        corpus_name=corpus.name,
        created_corpus=created_corpus,
        file_name=stored.name,
        file_path=str(stored.path),
        file_size=stored.size,
        file_sha256=stored.sha256,
        format=fmt or resolve_format(stored.path, options),
        options=options.to_dict(),
        created_by=recorded_user(user),
    )


def start_import_job(imp: Import, *, user=None, enqueue: bool = True):
    """Queue the import as a background job (kind "generation.import"); the Import row points at it."""
    from core.services.jobs import create_job

    with transaction.atomic():
        job = create_job(
            "generation.import",
            {"import_id": imp.pk},
            user=user,
            title=f"Import {imp.file_name} into {imp.corpus_name or imp.corpus.name}",
            enqueue=enqueue,
        )
        Import.objects.filter(pk=imp.pk).update(job=job)
    imp.job = job
    return job


def previous_complete_import(imp: Import) -> Import | None:
    """An earlier complete import of the very same bytes into the same corpus (shown as a note)."""
    if not imp.file_sha256:
        return None
    return (
        Import.objects.filter(corpus_id=imp.corpus_id, file_sha256=imp.file_sha256, status=Import.Status.COMPLETE)
        .exclude(pk=imp.pk)
        .order_by("pk")
        .first()
    )


# ------------------------------------------------------------------------------------------ running


def _begin_attempt(imp: Import) -> int:
    with transaction.atomic():
        row = Import.objects.select_for_update().get(pk=imp.pk)
        row.attempt += 1
        row.status = Import.Status.RUNNING
        row.error = ""
        row.started_at = timezone.now()
        row.finished_at = None
        row.bytes_read = row.passages_read = row.passages_created = row.passages_existing = 0
        row.pairs_created = row.pairs_existing = row.skipped_unanswerable = 0
        row.title_kept = row.title_only_questions = 0
        row.split_counts = {}
        row.save()
    return row.attempt


def _lock_attempt(imp: Import, attempt: int) -> None:
    """Inside a transaction: hold the Import row and make sure this writer is still the current attempt."""
    current = Import.objects.select_for_update().filter(pk=imp.pk).values_list("attempt", "status").first()
    if current is None or current[0] != attempt or current[1] != Import.Status.RUNNING:
        raise ImportSuperseded(f"import #{imp.pk}: attempt {attempt} was superseded")


def discard_staged(imp: Import, *, chunk_size: int = 2000) -> int:
    """Delete what an unfinished import wrote, in short transactions. Never touches a complete import."""
    if Import.objects.filter(pk=imp.pk, status=Import.Status.COMPLETE).exists():
        return 0
    removed = 0
    for model in (ReferenceQA, Passage):
        while True:
            ids = list(model.all_objects.filter(import_batch_id=imp.pk).values_list("pk", flat=True)[:chunk_size])
            if not ids:
                break
            with transaction.atomic():
                model.all_objects.filter(pk__in=ids).delete()
            removed += len(ids) if model is Passage else 0
    return removed


def _pair_key(passage_id: int, external_id: str, question: str) -> tuple:
    return (passage_id, "id", external_id) if external_id else (passage_id, "q", duplicate_key(question))


@dataclass
class _ChunkCounts:
    passages_read: int = 0
    passages_created: int = 0
    passages_existing: int = 0
    pairs_created: int = 0
    pairs_existing: int = 0


def _write_chunk(imp: Import, attempt: int, records: list[PassageRecord], split: str, bytes_read: int) -> _ChunkCounts:
    """One short transaction: new passages, their reference pairs, and the Import counters."""
    counts = _ChunkCounts(passages_read=len(records))
    hashes = [content_hash(r.text) for r in records]
    with transaction.atomic():
        _lock_attempt(imp, attempt)
        existing: dict[str, int] = dict(
            Passage.all_objects.filter(corpus_id=imp.corpus_id, content_hash__in=set(hashes))
            .filter(VISIBLE_PASSAGE | Q(import_batch_id=imp.pk))
            .values_list("content_hash", "pk")
        )
        new_by_hash: dict[str, Passage] = {}
        targets: list[tuple[str, PassageRecord]] = []
        for record, digest in zip(records, hashes, strict=True):
            if digest in existing:
                counts.passages_existing += 1
            elif digest in new_by_hash:
                counts.passages_existing += 1  # the same text twice in one file: one passage
            else:
                new_by_hash[digest] = Passage(
                    corpus_id=imp.corpus_id,
                    text=record.text,
                    title=record.title[:500],
                    external_id=record.external_id[:200],
                    split=split,
                    content_hash=digest,
                    import_batch_id=imp.pk,
                )
            targets.append((digest, record))
        if new_by_hash:
            created = Passage.all_objects.bulk_create(list(new_by_hash.values()))
            counts.passages_created = len(created)
        passage_id = dict(existing)
        passage_id.update({digest: p.pk for digest, p in new_by_hash.items()})

        # Pairs for passages that existed before this chunk may already be stored.
        old_ids = {passage_id[d] for d, r in targets if d in existing and r.qas}
        seen: set[tuple] = set()
        if old_ids:
            for pid, eid, question in (
                ReferenceQA.all_objects.filter(passage_id__in=old_ids)
                .filter(VISIBLE_REFERENCE | Q(import_batch_id=imp.pk))
                .values_list("passage_id", "external_id", "question")
            ):
                seen.add(_pair_key(pid, eid, question))
        pairs: list[ReferenceQA] = []
        for digest, record in targets:
            pid = passage_id[digest]
            for qa in record.qas:
                key = _pair_key(pid, qa.id, qa.question)
                if key in seen:
                    counts.pairs_existing += 1
                    continue
                seen.add(key)
                pairs.append(
                    ReferenceQA(
                        passage_id=pid,
                        question=qa.question,
                        answers=list(qa.answers),
                        answer_starts=list(qa.answer_starts),
                        external_id=qa.id[:200],
                        import_batch_id=imp.pk,
                    )
                )
        if pairs:
            ReferenceQA.all_objects.bulk_create(pairs, batch_size=1000)
        counts.pairs_created = len(pairs)
        Import.objects.filter(pk=imp.pk).update(
            bytes_read=bytes_read,
            passages_read=F("passages_read") + counts.passages_read,
            passages_created=F("passages_created") + counts.passages_created,
            passages_existing=F("passages_existing") + counts.passages_existing,
            pairs_created=F("pairs_created") + counts.pairs_created,
            pairs_existing=F("pairs_existing") + counts.pairs_existing,
        )
    return counts


def _carve_split(imp: Import, attempt: int, spec: SplitSpec, *, chunk_size: int = 500) -> dict[str, int]:
    """Assign the staged passages to train/validation/test by article (title), seeded.

    Group sizes come from the database, not from memory kept during the stream; untitled passages are
    each their own group, keyed by id."""
    staged = Passage.all_objects.filter(import_batch_id=imp.pk)
    sizes: dict[str, int] = {}
    for row in staged.exclude(title="").values("title").annotate(n=Count("id")).order_by():
        sizes[f"title:{row['title']}"] = row["n"]
    for pk in staged.filter(title="").values_list("pk", flat=True).iterator(chunk_size=5000):
        sizes[f"passage:{pk}"] = 1
    assignment = split_groups(sizes, spec)
    by_split: dict[str, list[str]] = {}
    for key, split in assignment.items():
        by_split.setdefault(split, []).append(key)
    for split, keys in by_split.items():
        titles = [k[len("title:") :] for k in keys if k.startswith("title:")]
        pks = [int(k[len("passage:") :]) for k in keys if k.startswith("passage:")]
        for part in chunked(titles, chunk_size):
            with transaction.atomic():
                _lock_attempt(imp, attempt)
                staged.filter(title__in=part).update(split=split)
        for part in chunked(pks, chunk_size):
            with transaction.atomic():
                _lock_attempt(imp, attempt)
                staged.filter(pk__in=part, title="").update(split=split)
    return split_counts(sizes, assignment)


def run_import(
    imp: Import,
    *,
    progress: ProgressFn | None = None,
    check_cancelled: Callable[[], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Import:
    """Read the Import's file into its corpus. Idempotent: a complete import returns at once; anything
    else starts a new attempt from scratch. Raises CorpusImportError for bad input (nothing is kept)."""
    imp.refresh_from_db()
    if imp.status == Import.Status.COMPLETE:
        return imp
    if imp.corpus_id is None:
        raise CorpusRemoved(
            imp.file_name,
            f"the new corpus {imp.corpus_name!r} was removed when this import failed, so there is nothing to "
            "retry into",
            hint="Upload the corrected file again (as a new corpus or into an existing one)",
        )
    options = ImportOptions.from_dict(imp.options)
    attempt = _begin_attempt(imp)
    discard_staged(imp)
    stats = ReadStats()
    position = {"bytes": 0}

    def on_bytes(done: int, total: int) -> None:
        position["bytes"] = done

    totals = _ChunkCounts()
    try:
        records = open_records(imp.file_path, options, progress=on_bytes, stats=stats)
        for chunk in chunked(records, chunk_size):
            if check_cancelled is not None:
                check_cancelled()
            counts = _write_chunk(imp, attempt, chunk, options.split, position["bytes"])
            for name in totals.__dataclass_fields__:
                setattr(totals, name, getattr(totals, name) + getattr(counts, name))
            if progress is not None:
                progress(
                    {
                        "bytes_read": position["bytes"],
                        "bytes_total": imp.file_size or stats.bytes_total,
                        **asdict(totals),
                    }
                )
        spec = options.split_spec()
        splits = _carve_split(imp, attempt, spec) if spec is not None else {}
        if not splits and options.split:
            splits = {options.split: totals.passages_created}
        with transaction.atomic():
            _lock_attempt(imp, attempt)
            Import.objects.filter(pk=imp.pk).update(
                status=Import.Status.COMPLETE,
                finished_at=timezone.now(),
                bytes_read=stats.bytes_total,
                skipped_unanswerable=stats.skipped_unanswerable,
                title_kept=stats.title_kept,
                title_only_questions=stats.title_only_questions,
                split_counts=splits,
            )
    except ImportSuperseded:
        raise  # a newer attempt owns the staged rows now
    except BaseException as exc:
        message = exc.user_message if isinstance(exc, CorpusImportError) else _failure_message(exc)
        try:
            _fail(imp, attempt, message)
            # A malformed file stays malformed on retry, so a corpus made for it goes; other failures
            # (cancel, a lost database, a warm shutdown handing the job back) keep it for the retry.
            if isinstance(exc, CorpusImportError) and imp.created_corpus:
                _remove_new_corpus(imp)
        except Exception:  # the original error matters more than a failed clean-up (a retry cleans up)
            logger.exception("import #%s: could not clean up after %s", imp.pk, type(exc).__name__)
        raise
    imp.refresh_from_db()
    discard_upload(imp.file_path)  # the passages are stored; the upload copy is not needed
    return imp


def _failure_message(exc: BaseException) -> str:
    from core.services.jobs import JobCancelled

    if isinstance(exc, JobCancelled):
        return "Import cancelled; nothing from this file was stored."
    return f"{type(exc).__name__}: {exc}"


def _fail(imp: Import, attempt: int, message: str) -> None:
    """Mark the attempt failed and remove its staged rows, unless a newer attempt has taken over."""
    with transaction.atomic():
        row = Import.objects.select_for_update().filter(pk=imp.pk).first()
        if row is None or row.attempt != attempt:
            return
        row.status = Import.Status.FAILED
        row.error = message
        row.finished_at = timezone.now()
        # The staged rows are deleted below, so nothing was kept: the page must not show staged counts as
        # "new passages". How far the reader got (passages_read, bytes_read) stays as a clue.
        row.passages_created = row.passages_existing = row.pairs_created = row.pairs_existing = 0
        row.split_counts = {}
        row.save(
            update_fields=[
                "status",
                "error",
                "finished_at",
                "passages_created",
                "passages_existing",
                "pairs_created",
                "pairs_existing",
                "split_counts",
            ]
        )
    discard_staged(imp)


def import_file(
    corpus: Corpus,
    path: str | Path,
    options: ImportOptions = ImportOptions(),
    *,
    user=None,
    progress: ProgressFn | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Import:
    """Import a file in place, synchronously (the management command and tests use this)."""
    options.check()
    stored = describe_file(path)
    imp = create_import(corpus, stored, options, user=user)
    return run_import(imp, progress=progress, chunk_size=chunk_size)


def import_into_corpus_named(
    name: str,
    path: str | Path,
    options: ImportOptions = ImportOptions(),
    *,
    language: str = "en",
    source: str = "",
    user=None,
    progress: ProgressFn | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Import:
    """Import a file in place into the corpus called `name`, creating it if missing (the command).

    A corpus this call created is removed again when the import fails: trying a batch of files, some of
    them bad, must not leave empty corpora behind. An existing corpus keeps its failed Import row, which
    records the attempt and its error."""
    options.check()
    stored = describe_file(path)  # a missing file is reported before anything is created
    corpus, created = Corpus.objects.get_or_create(name=name.strip(), defaults={"language": language, "source": source})
    try:
        imp = create_import(corpus, stored, options, user=user)
        return run_import(imp, progress=progress, chunk_size=chunk_size)
    except BaseException:
        if created:
            _drop_if_unused(corpus)
        raise


def _drop_if_unused(corpus: Corpus, *, keep_imports: bool = False) -> bool:
    """Delete a corpus an import created, if nothing else came to use it. Its failed Import rows go with it
    (the command: the console showed the error), or stay, pointing nowhere, with keep_imports (an upload:
    its page shows the error and that nothing was kept). Returns whether the corpus was deleted."""
    with transaction.atomic():
        corpus = Corpus.objects.select_for_update().filter(pk=corpus.pk).first()
        if corpus is None:
            return False
        if Passage.all_objects.filter(corpus=corpus).exists():
            return False
        if corpus.imports.exclude(status=Import.Status.FAILED).exists():
            return False  # another import started meanwhile
        if corpus.generation_runs.exists() or corpus.datasets.exists():
            return False
        if not keep_imports:
            corpus.imports.all().delete()
        corpus.delete()
        return True


def _remove_new_corpus(imp: Import) -> None:
    """After a malformed upload into the corpus it created: remove the corpus and say so on the import."""
    corpus = Corpus.objects.filter(pk=imp.corpus_id).first()
    if corpus is None or not _drop_if_unused(corpus, keep_imports=True):
        return
    error = Import.objects.filter(pk=imp.pk).values_list("error", flat=True).first() or ""
    note = f"Nothing was kept: the new corpus {imp.corpus_name!r} was removed."
    Import.objects.filter(pk=imp.pk).update(error=then(error, note))


def import_summary(imp: Import) -> dict[str, Any]:
    return {
        "import_id": imp.pk,
        "corpus": imp.corpus.name,
        "file": imp.file_name,
        "status": imp.status,
        "passages_read": imp.passages_read,
        "passages_created": imp.passages_created,
        "passages_existing": imp.passages_existing,
        "pairs_created": imp.pairs_created,
        "pairs_existing": imp.pairs_existing,
        "skipped_unanswerable": imp.skipped_unanswerable,
        "title_kept": imp.title_kept,
        "title_only_questions": imp.title_only_questions,
        "splits": imp.split_counts,
    }
