"""Blind side-by-side judging: sessions, items, per-judge assignment slots, judgments and their revisions.

Assignment works on pre-created slots: an item judged by k judges owns k Assignment rows. A judge takes
one free slot of an item they have not judged (row lock, SKIP LOCKED on PostgreSQL; IMMEDIATE
transactions on SQLite), so "exactly k judgments from k different judges" is a property of the rows
themselves (unique (item, slot) and unique (item, judge)), not of careful timing. Judges address an
assignment only by its random token; which side shows which system is a stored per-assignment seed.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

DEFAULT_ACCURACY_LABELS = [
    {"key": "correct", "label": "Correct"},
    {"key": "partial", "label": "Partially correct"},
    {"key": "incorrect", "label": "Incorrect"},
]


def default_accuracy_labels() -> list[dict[str, str]]:
    return [dict(label) for label in DEFAULT_ACCURACY_LABELS]


def new_token() -> str:
    """URL-safe, unguessable and unordered: reveals neither item, system nor sequence."""
    return secrets.token_urlsafe(18)


def new_seed() -> int:
    return secrets.randbits(62)


class MatchupDesign(models.TextChoices):
    ALL_PAIRS = "all_pairs", "all pairs: every item x every pair of systems"
    BALANCED = "balanced", "balanced: a fixed number of pairs per item, every pair equally often"
    ADAPTIVE = "adaptive", "adaptive: the next pair is the one the current ranking is least sure about"


class JudgingSession(models.Model):
    """One blind comparison of K >= 2 systems' answers on the same items (K = 2: systems A and B).

    system_a/system_b name the systems at positions 0 and 1 (every session has them); the full list is
    `systems` (SessionSystem rows), whose count is denormalised in n_systems so leasing needs no query.
    """

    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Markdown, shown to judges (sanitised).")
    system_a = models.CharField(max_length=200, help_text="Name of the first system (staff only).")
    system_b = models.CharField(max_length=200, help_text="Name of the second system (staff only).")
    judges_per_item = models.PositiveSmallIntegerField(
        default=3, help_text="k: judgments each item gets (each shown pair of an item, when K > 2)."
    )
    n_systems = models.PositiveSmallIntegerField(default=2, help_text="K: systems compared (SessionSystem rows).")
    matchup_design = models.CharField(
        max_length=16, choices=MatchupDesign.choices, default=MatchupDesign.ALL_PAIRS,
        help_text="Which pairs of systems each item is shown with (irrelevant when K = 2: one pair).",
    )
    pairs_per_item = models.PositiveSmallIntegerField(
        default=1, help_text="Pairs shown per item (balanced, adaptive); all pairs: K (K - 1) / 2."
    )
    judges = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="judging_sessions", help_text="Judges taking part."
    )
    open_to_all_judges = models.BooleanField(
        default=False, help_text="Every member of the judges group may take part (the demo session does)."
    )
    is_open = models.BooleanField(default=True)
    accuracy_labels = models.JSONField(
        default=default_accuracy_labels,
        help_text='Ordered best to worst: [{"key": "correct", "label": "Correct"}, ...]. Controls expect the first '
        "label for a right answer and the last for a wrong one.",
    )
    ask_preference = models.BooleanField(default=True, help_text="Ask which answer is better (A / tie / B).")
    ask_comment = models.BooleanField(default=True, help_text="Offer an optional free-text comment.")
    show_gold = models.BooleanField(default=False, help_text="Show the gold answer(s) to judges.")
    lease_seconds = models.PositiveIntegerField(default=600, help_text="How long a judge holds an item.")
    block_size = models.PositiveIntegerField(
        default=10,
        help_text="Items are handed out block by block (random order inside a block, per judge), so finished "
        "items accumulate from the start rather than every item being half-judged.",
    )
    control_rate = models.FloatField(default=0.0, help_text="Share of control items mixed in (0 to 0.5).")
    control_threshold = models.FloatField(
        default=0.7, help_text="Judges whose control accuracy is below this are flagged."
    )
    seed = models.BigIntegerField(default=new_seed, help_text="Seed for item shuffling and control choice.")
    source = models.JSONField(default=dict, blank=True, help_text="Where the items came from (provenance).")
    ranking_intervals = models.JSONField(
        null=True, blank=True, editable=False,
        help_text="[low, high] strength interval per system of the last computed ranking (null where none), "
        "written by analysis; the adaptive matchup design reads them with the session row.",
    )  # fmt: skip
    is_demo = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("annotation:session-detail", args=[self.pk])

    @property
    def label_keys(self) -> list[str]:
        return [label["key"] for label in self.accuracy_labels]

    @property
    def best_label(self) -> str:
        return self.accuracy_labels[0]["key"]

    @property
    def worst_label(self) -> str:
        return self.accuracy_labels[-1]["key"]


class ControlKind(models.TextChoices):
    NONE = "", "not a control"
    GOLD_AS_ANSWER = "gold", "gold answer shown as an answer"
    WRONG_ANSWER = "wrong", "clearly wrong answer"


class SessionSystem(models.Model):
    """One system of a session: a name (staff only) and where its answers came from. position is the
    statistics engine's system index; positions 0 and 1 are the session's system_a/system_b."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="systems")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    source = models.JSONField(default=dict, blank=True, help_text="Provenance: run id, upload column, cell.")

    class Meta:
        ordering = ["session", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "position"], name="sessionsystem_position"),
            models.UniqueConstraint(fields=["session", "name"], name="sessionsystem_name"),
        ]

    def __str__(self) -> str:
        return self.name


class SessionItem(models.Model):
    """A question, its context, gold answers and the two systems' answers (answer_a is system A's)."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(help_text="Order in the source (0-based).")
    block = models.PositiveIntegerField(default=0, db_index=True)
    shuffle_key = models.BigIntegerField(default=0, help_text="Random key; each judge permutes these.")
    external_id = models.CharField(max_length=200, blank=True)
    question = models.TextField()
    context = models.TextField(blank=True)
    gold_answers = models.JSONField(default=list, blank=True)
    answer_a = models.TextField()
    answer_b = models.TextField()
    metrics_a = models.JSONField(default=dict, blank=True, help_text="Automatic scores of answer A (staff only).")
    metrics_b = models.JSONField(default=dict, blank=True, help_text="Automatic scores of answer B (staff only).")
    is_control = models.BooleanField(default=False)
    control_kind = models.CharField(max_length=8, choices=ControlKind.choices, blank=True, default="")
    control_source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="controls"
    )
    expected_label_a = models.CharField(max_length=32, blank=True, help_text="Controls: the known label of A.")
    expected_label_b = models.CharField(max_length=32, blank=True, help_text="Controls: the known label of B.")

    class Meta:
        ordering = ["session", "block", "position", "id"]
        indexes = [models.Index(fields=["session", "is_control"])]

    def __str__(self) -> str:
        return self.question[:80]


class ItemAnswer(models.Model):
    """One system's answer to one item. Every system of a session has one per item; the answers of positions 0
    and 1 are also on the item (answer_a/answer_b, metrics_a/metrics_b), which two-system code reads."""

    item = models.ForeignKey(SessionItem, on_delete=models.CASCADE, related_name="answers")
    system = models.PositiveSmallIntegerField(help_text="SessionSystem.position of the system that answered.")
    text = models.TextField()
    metrics = models.JSONField(default=dict, blank=True, help_text="Automatic scores of this answer (staff only).")

    class Meta:
        ordering = ["item", "system"]
        constraints = [models.UniqueConstraint(fields=["item", "system"], name="itemanswer_item_system")]

    def __str__(self) -> str:
        return f"item {self.item_id} system {self.system}"


class SessionJudge(models.Model):
    """A judge's membership in a session: their private item permutation and the row that serialises their
    own requests (a double click cannot hand one judge two slots)."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="participants")
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    perm_a = models.BigIntegerField(help_text="Multiplier of the per-judge permutation (1 .. P-1).")
    perm_c = models.BigIntegerField(help_text="Offset of the per-judge permutation (0 .. P-1).")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "judge"], name="sessionjudge_unique")]

    def __str__(self) -> str:
        return f"{self.judge} in {self.session}"


class Assignment(models.Model):
    """One of an item's k slots. Free while judge is null or its lease ran out before a submit."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(SessionItem, on_delete=models.CASCADE, related_name="assignments")
    slot = models.PositiveSmallIntegerField()
    block = models.PositiveIntegerField(default=0, help_text="Copy of the item's block: finds the open block fast.")
    judge = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.CharField(max_length=32, null=True, blank=True, unique=True)
    seed = models.BigIntegerField(null=True, blank=True, help_text="Seed that decided the left/right placement.")
    swapped = models.BooleanField(default=False, help_text="True: system B is shown on the left.")
    system_a = models.PositiveSmallIntegerField(default=0, help_text="Position of the first system shown (A).")
    system_b = models.PositiveSmallIntegerField(default=1, help_text="Position of the second system shown (B).")
    sequence = models.PositiveIntegerField(null=True, blank=True, help_text="n-th item this judge was given.")
    assigned_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    times_released = models.PositiveIntegerField(default=0, help_text="Leases that ran out on this slot.")

    class Meta:
        ordering = ["item_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="assignment_item_slot"),
            # A judge may see an item again with another pair of systems (K > 2), never the same pair twice.
            models.UniqueConstraint(
                fields=["item", "judge", "system_a", "system_b"],
                condition=Q(judge__isnull=False),
                name="assignment_item_judge_pair",
            ),
            models.CheckConstraint(condition=Q(system_a__lt=F("system_b")), name="assignment_pair_ordered"),
        ]
        indexes = [
            models.Index(fields=["session", "judge", "submitted_at"]),
            models.Index(fields=["session", "submitted_at", "lease_expires_at"]),
            # Open slots in hand-out order: the next item is found without reading finished ones.
            models.Index(
                fields=["session", "block"], condition=Q(submitted_at__isnull=True), name="assignment_open_by_block"
            ),
            # Open comparisons in (item, pair) order: a judge's progress counts distinct ones up to a cap and
            # stops there, instead of sorting every open slot of the session first (K-system sessions).
            models.Index(
                fields=["session", "item", "system_a", "system_b"],
                condition=Q(submitted_at__isnull=True),
                name="assignment_open_pairs",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} slot {self.slot} ({self.judge or 'free'})"


class Preference(models.TextChoices):
    A = "a", "A better"
    TIE = "tie", "tie"
    B = "b", "B better"


class Judgment(models.Model):
    """The latest judgment of one assignment, in system terms (label_a is about the answer of system_a, the
    assignment's first system; a copy of its pair keeps the statistics query free of joins)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="judgment")
    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="judgments")
    item = models.ForeignKey(SessionItem, on_delete=models.CASCADE, related_name="judgments")
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="judgments")
    system_a = models.PositiveSmallIntegerField(default=0)
    system_b = models.PositiveSmallIntegerField(default=1)
    label_a = models.CharField(max_length=32)
    label_b = models.CharField(max_length=32)
    preference = models.CharField(max_length=4, choices=Preference.choices, blank=True, default="")
    comment = models.TextField(blank=True)
    time_on_item_ms = models.PositiveIntegerField(help_text="Server time from assignment to first submit.")
    revisions_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "item", "judge"]
        constraints = [
            models.UniqueConstraint(fields=["item", "judge", "system_a", "system_b"], name="judgment_item_judge_pair")
        ]

    def __str__(self) -> str:
        return f"{self.judge} on item {self.item_id}: {self.label_a}/{self.label_b}/{self.preference or '-'}"


class JudgmentRevision(models.Model):
    """Every submit that changed something, with the client's submission id that makes retries harmless."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="revisions")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    submission_id = models.CharField(max_length=64)
    label_a = models.CharField(max_length=32)
    label_b = models.CharField(max_length=32)
    preference = models.CharField(max_length=4, choices=Preference.choices, blank=True, default="")
    comment = models.TextField(blank=True)
    swapped = models.BooleanField(help_text="Placement the judge saw (True: B on the left).")
    ms_since_assigned = models.PositiveIntegerField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["judgment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "submission_id"], name="revision_submission_once"),
            models.UniqueConstraint(fields=["judgment", "number"], name="revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"revision {self.number} of judgment {self.judgment_id}"


class FlagReason(models.TextChoices):
    UNANSWERABLE = "unanswerable", "The question cannot be answered from the passage"
    IDENTICAL = "identical", "Both answers are identical"
    OTHER = "other", "Another problem (described in the note)"


class ItemFlag(models.Model):
    """A judge's report that an item cannot be judged as asked; the judge skips it.

    A flag ends the judge's assignment like a judgment does (the slot counts as done, the judge is not handed
    the item again), so an unjudgeable item does not travel from judge to judge. Labels are optional: a judge
    may also have labelled the item. Staff see flags per item; statistics keep flagged items unless asked not to.
    """

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="flag")
    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="flags")
    item = models.ForeignKey(SessionItem, on_delete=models.CASCADE, related_name="flags")
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=FlagReason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "item", "judge"]
        constraints = [models.UniqueConstraint(fields=["item", "judge"], name="itemflag_item_judge")]

    def __str__(self) -> str:
        return f"{self.judge} flagged item {self.item_id}: {self.reason}"



# --- recruiting judges through invitation links (issue 17) ------------------------------------------------


class Recruitment(models.Model):
    """How a session takes in judges who arrive through invitation links: what they must read and pass
    first, and the limits that keep the session sane. One row per session, made when staff first use it."""

    session = models.OneToOneField(JudgingSession, on_delete=models.CASCADE, related_name="recruitment")
    consent_text = models.TextField(
        blank=True, help_text="Markdown (sanitised): the information/consent page invited judges must accept."
    )
    max_judges = models.PositiveIntegerField(default=0, help_text="Invited judges the session takes (0: no cap).")
    max_items_per_judge = models.PositiveIntegerField(default=0, help_text="Items one judge judges (0: no cap).")
    idle_timeout_seconds = models.PositiveIntegerField(
        default=900, help_text="An invited judge silent this long gives back the item in hand and counts as quit."
    )
    qualification_size = models.PositiveSmallIntegerField(
        default=0, help_text="Control items shown first to every invited judge (0: no qualification)."
    )
    qualification_threshold = models.FloatField(
        default=0.7, help_text="Share of the qualification checks a judge must get right to go on judging."
    )

    def __str__(self) -> str:
        return f"recruitment of {self.session}"


class InvitationKind(models.TextChoices):
    PERSONAL = "personal", "personal (one judge, one use)"
    OPEN = "open", "open (anyone with the link, up to a cap)"


class Platform(models.TextChoices):
    NONE = "", "none"
    PROLIFIC = "prolific", "Prolific (PROLIFIC_PID, STUDY_ID, SESSION_ID)"
    CUSTOM = "custom", "another platform (parameter names below)"


PROLIFIC_PARAMETERS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")


def new_invitation_secret() -> str:
    """256 random bits; the URL carries it signed (see annotation.services.invitations)."""
    return secrets.token_urlsafe(32)


class InvitationLink(models.Model):
    """A link staff hand out: personal (one judge, one use) or open (anyone, up to a cap, optional expiry;
    with a crowd platform, the worker's ids come in the query string)."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=12, choices=InvitationKind.choices)
    secret = models.CharField(max_length=64, unique=True, default=new_invitation_secret)
    label = models.CharField(max_length=200, blank=True, help_text="Staff note (judges never see it).")
    email = models.EmailField(blank=True, help_text="Personal links: whom it was sent to (staff only).")
    max_judges = models.PositiveIntegerField(default=0, help_text="Open links: judges it admits (0: no cap).")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    platform = models.CharField(max_length=12, choices=Platform.choices, blank=True, default="")
    worker_param = models.CharField(max_length=64, blank=True, help_text="Query parameter with the worker id.")
    study_param = models.CharField(max_length=64, blank=True)
    session_param = models.CharField(max_length=64, blank=True)
    completion_code = models.CharField(max_length=64, blank=True)
    completion_url = models.URLField(max_length=500, blank=True, help_text="Where finished judges are sent.")
    screened_out_code = models.CharField(max_length=64, blank=True)
    screened_out_url = models.URLField(max_length=500, blank=True)
    times_sent = models.PositiveIntegerField(default=1)
    used_at = models.DateTimeField(
        null=True, blank=True, help_text="Personal links: first opened since (re-)sent; a second browser is refused."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} link {self.pk} of {self.session}"

    @property
    def crowd(self) -> bool:
        return bool(self.worker_param)


class Qualification(models.TextChoices):
    NOT_YET = "", "not taken"
    PASSED = "passed", "passed"
    FAILED = "failed", "screened out"


class InvitedJudge(models.Model):
    """The judge identity an invitation made: a user without a password, bound to one session, signed in
    by the link and kept by the session cookie. Crowd workers carry their platform ids (staff only)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invited_judge")
    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="invited_judges")
    link = models.ForeignKey(InvitationLink, on_delete=models.CASCADE, related_name="judges")
    worker_id = models.CharField(max_length=128, blank=True)
    study_id = models.CharField(max_length=128, blank=True)
    platform_session_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    instructions_seen_at = models.DateTimeField(null=True, blank=True)
    qualification = models.CharField(max_length=8, choices=Qualification.choices, blank=True, default="")
    qualified_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "worker_id"], condition=~Q(worker_id=""), name="invitedjudge_one_per_worker"
            )
        ]

    def __str__(self) -> str:
        return f"invited judge {self.user_id} in {self.session}"


class QualificationItem(models.Model):
    """A control item of the qualification block: one answer replaced by something with a known label."""

    session = models.ForeignKey(JudgingSession, on_delete=models.CASCADE, related_name="qualification_items")
    position = models.PositiveIntegerField()
    source = models.ForeignKey(SessionItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    question = models.TextField()
    context = models.TextField(blank=True)
    answer_a = models.TextField()
    answer_b = models.TextField()
    expected_label_a = models.CharField(max_length=32, blank=True)
    expected_label_b = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["session", "position", "id"]

    def __str__(self) -> str:
        return f"qualification item {self.position} of {self.session}"


class QualificationAnswer(models.Model):
    """An invited judge's labels on one qualification item (system terms), with the server-side time."""

    judge = models.ForeignKey(InvitedJudge, on_delete=models.CASCADE, related_name="qualification_answers")
    item = models.ForeignKey(QualificationItem, on_delete=models.CASCADE, related_name="answers")
    swapped = models.BooleanField(default=False, help_text="True: answer B was shown on the left.")
    shown_at = models.DateTimeField()
    label_a = models.CharField(max_length=32, blank=True)
    label_b = models.CharField(max_length=32, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["judge", "item__position"]
        constraints = [models.UniqueConstraint(fields=["judge", "item"], name="qualificationanswer_once")]

    def __str__(self) -> str:
        return f"{self.judge} on {self.item}"
