"""Invitation links: making, signing, revoking and re-sending them, and opening one (which creates or resumes
the judge identity it admits), with the caps and the rate limit of the only pages anonymous visitors reach.

A link's URL carries its 256-bit random secret signed with SECRET_KEY (``django.core.signing``), so a forged
or mistyped token is refused before any database read, and the secret itself is unguessable. Opening a link
signs the browser in as a password-less user of the "invited judges" group bound to the link's session;
the session cookie brings the judge back. Crowd-platform links read the worker's ids from the query string
and give one worker one judge (a second visit resumes).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from annotation.models import (
    PROLIFIC_PARAMETERS,
    InvitationKind,
    InvitationLink,
    InvitedJudge,
    JudgingSession,
    Platform,
    Recruitment,
    new_invitation_secret,
)
from core.permissions import INVITED_JUDGES_GROUP

logger = logging.getLogger(__name__)
SALT = "annotation.invitation"
SEPARATOR = "."
MAX_ID_CHARS = 128


class InvitationError(ValueError):
    """Staff asked for a link that cannot be made as asked; the message names the setting."""


class Refused(Exception):
    """Opening a link was refused; ``reason`` picks the page, the message says why in plain words."""

    def __init__(self, reason: str, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


# --- tokens ------------------------------------------------------------------------------------------------


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, sep=SEPARATOR)


def token_for(link: InvitationLink) -> str:
    return _signer().sign(link.secret)


def secret_from(token: str) -> str | None:
    """The secret inside a well-signed token, else None (no database read for forged tokens)."""
    if not token or len(token) > 200:
        return None
    try:
        return _signer().unsign(token)
    except signing.BadSignature:
        return None


def link_path(link: InvitationLink) -> str:
    return reverse("annotation:invite-open", args=[token_for(link)])


def example_query(link: InvitationLink) -> str:
    """The query string a crowd platform appends, with the platform's own placeholders (Prolific's style)."""
    names = [name for name in (link.worker_param, link.study_param, link.session_param) if name]
    return "&".join(f"{name}={{{{%{name}%}}}}" for name in names)


# --- staff: making, revoking, re-sending -------------------------------------------------------------------


def recruitment_for(session: JudgingSession) -> Recruitment:
    found = Recruitment.objects.filter(session=session).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Recruitment.objects.create(session=session, qualification_threshold=session.control_threshold)
    except IntegrityError:
        return Recruitment.objects.get(session=session)


def create_link(
    session: JudgingSession,
    kind: str,
    *,
    created_by: User | None = None,
    label: str = "",
    email: str = "",
    max_judges: int = 0,
    expires_at: datetime | None = None,
    platform: str = "",
    worker_param: str = "",
    study_param: str = "",
    session_param: str = "",
    completion_code: str = "",
    completion_url: str = "",
    screened_out_code: str = "",
    screened_out_url: str = "",
) -> InvitationLink:
    if kind not in InvitationKind.values:
        raise InvitationError(f"Unknown link kind {kind!r}; use 'personal' or 'open'.")
    if platform not in Platform.values:
        raise InvitationError(f"Unknown platform {platform!r}.")
    if kind == InvitationKind.PERSONAL and platform:
        raise InvitationError("A crowd platform needs an open link: a personal link admits one judge only.")
    if kind == InvitationKind.PERSONAL and max_judges not in (0, 1):
        raise InvitationError("A personal link admits exactly one judge; leave the cap at 0.")
    if kind == InvitationKind.OPEN and email:
        raise InvitationError("An e-mail address belongs to a personal link.")
    if platform == Platform.PROLIFIC:
        worker_param, study_param, session_param = PROLIFIC_PARAMETERS
    elif platform == Platform.CUSTOM and not worker_param.strip():
        raise InvitationError("Name the query parameter that carries the worker id.")
    names = [name.strip() for name in (worker_param, study_param, session_param)]
    for name in names:
        if name and not all(ch.isalnum() or ch in "_-" for ch in name):
            raise InvitationError(f"Query parameter names are letters, digits, '_' and '-'; got {name!r}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvitationError("The expiry lies in the past.")
    return InvitationLink.objects.create(
        session=session, kind=kind, created_by=created_by, label=label.strip()[:200], email=email.strip(),
        max_judges=1 if kind == InvitationKind.PERSONAL else max_judges, expires_at=expires_at, platform=platform,
        worker_param=names[0], study_param=names[1], session_param=names[2],
        completion_code=completion_code.strip(), completion_url=completion_url.strip(),
        screened_out_code=screened_out_code.strip(), screened_out_url=screened_out_url.strip(),
    )  # fmt: skip


def revoke(link: InvitationLink) -> None:
    """The link stops admitting anyone; judges it already admitted are signed out at their next request."""
    InvitationLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def resend(link: InvitationLink) -> InvitationLink:
    """A personal link gets a new secret (the old URL stops working) and may be opened once more: the judge
    it admitted continues from another browser with everything judged so far."""
    if link.kind != InvitationKind.PERSONAL:
        raise InvitationError("Only personal links are re-sent; an open link is simply shared again.")
    if link.revoked_at is not None:
        raise InvitationError("This link was revoked; make a new one.")
    link.secret = new_invitation_secret()
    link.used_at = None
    link.times_sent += 1
    link.save(update_fields=["secret", "used_at", "times_sent"])
    return link


# --- opening a link ----------------------------------------------------------------------------------------


@dataclass
class Opened:
    judge: InvitedJudge
    created: bool


def find_link(token: str) -> InvitationLink:
    secret = secret_from(token)
    link = InvitationLink.objects.select_related("session").filter(secret=secret).first() if secret else None
    if link is None:
        raise Refused("invalid", "This invitation link is not valid. Check that it was copied completely.", status=404)
    return link


def platform_ids(link: InvitationLink, query) -> tuple[str, str, str]:  # noqa: ANN001 - a QueryDict or dict
    """(worker, study, session) ids from the query string; a crowd link without a worker id is refused."""
    values = []
    for name in (link.worker_param, link.study_param, link.session_param):
        value = str(query.get(name, "") if name else "").strip()
        if len(value) > MAX_ID_CHARS or not all(ch.isprintable() for ch in value):
            raise Refused("bad-query", f"The parameter {name} is not a valid id.", status=400)
        values.append(value)
    if link.crowd and not values[0]:
        raise Refused(
            "missing-worker",
            f"This study link needs your worker id ({link.worker_param}) in the address. Please open it from "
            "the study page of your platform.",
            status=400,
        )
    return values[0], values[1], values[2]


def check_link(link: InvitationLink, now: datetime) -> None:
    if link.revoked_at is not None:
        raise Refused("revoked", "This invitation has been withdrawn by the study team.", status=410)
    if link.expires_at is not None and link.expires_at <= now:
        raise Refused("expired", "This invitation has expired.", status=410)
    if not link.session.is_open:
        raise Refused("closed", "This study is closed and takes no more judgments.", status=409)


def open_link(link: InvitationLink, current: User | None, query, *, now: datetime | None = None) -> Opened:  # noqa: ANN001
    """The judge this visit is: the browser's own judge of this link's session (resume), the judge of the
    same crowd worker (resume), the personal link's judge, or a new one when the caps allow.

    The link row is locked while deciding, so concurrent arrivals never push a link or session past its cap.
    """
    now = now or timezone.now()
    check_link(link, now)
    worker_id, study_id, platform_session_id = platform_ids(link, query)
    mine = getattr(current, "invited_judge", None) if current is not None and current.is_authenticated else None
    if current is not None and current.is_authenticated and mine is None:
        raise Refused(
            "signed-in",
            f"You are signed in as {current.get_username()}. Sign out, or open the link in a private window.",
            status=409,
        )
    if mine is not None and mine.session_id == link.session_id and (not worker_id or mine.worker_id == worker_id):
        return Opened(mine, created=False)
    try:
        return _admit(link, worker_id, study_id, platform_session_id, now)
    except IntegrityError:  # the same worker arrived twice at once through two links: the other visit won
        found = InvitedJudge.objects.filter(session=link.session, worker_id=worker_id).first() if worker_id else None
        if found is None:
            raise
        return Opened(found, created=False)


def _admit(link: InvitationLink, worker_id: str, study_id: str, platform_session_id: str, now: datetime) -> Opened:
    with transaction.atomic():
        locked = InvitationLink.objects.select_for_update().get(pk=link.pk)
        if worker_id:
            known = InvitedJudge.objects.select_related("user").filter(session=link.session, worker_id=worker_id)
            found = known.first()
            if found is not None:
                return Opened(found, created=False)
        if locked.kind == InvitationKind.PERSONAL:
            existing = InvitedJudge.objects.select_related("user").filter(link=locked).first()
            if locked.used_at is not None:
                raise Refused(
                    "used",
                    "This personal link has already been used. If it is yours, ask the study team to send it again.",
                    status=410,
                )
            InvitationLink.objects.filter(pk=locked.pk).update(used_at=now)
            if existing is not None:
                return Opened(existing, created=False)
        _check_caps(locked)
        locked.session = link.session  # already read with the link
        judge = _new_judge(locked, worker_id, study_id, platform_session_id)
    logger.info("invitation %s admitted judge %s to session %s", link.pk, judge.user_id, link.session_id)
    return Opened(judge, created=True)


FULL = "This study is full: every place has been taken. Thank you for your interest."


def _check_caps(link: InvitationLink) -> None:
    recruitment = Recruitment.objects.select_for_update().filter(session_id=link.session_id).first()
    link_full = link.kind == InvitationKind.OPEN and link.max_judges
    if link_full and InvitedJudge.objects.filter(link=link).count() >= link.max_judges:
        raise Refused("full", FULL, status=409)
    session_cap = recruitment.max_judges if recruitment is not None else 0
    if session_cap and InvitedJudge.objects.filter(session_id=link.session_id).count() >= session_cap:
        raise Refused("full", FULL, status=409)


def _invited_group() -> Group:
    return Group.objects.get_or_create(name=INVITED_JUDGES_GROUP)[0]


def _new_judge(link: InvitationLink, worker_id: str, study_id: str, platform_session_id: str) -> InvitedJudge:
    user = User(username=f"invited-{secrets.token_hex(8)}")
    user.set_unusable_password()
    user.save()
    user.groups.add(_invited_group())
    link.session.judges.add(user)
    return InvitedJudge.objects.create(
        user=user, session=link.session, link=link, worker_id=worker_id, study_id=study_id,
        platform_session_id=platform_session_id,
    )  # fmt: skip


# --- rate limit of the invitation pages --------------------------------------------------------------------


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def throttled(address: str, now: float) -> bool:
    """Whether this address must wait: too many link openings this minute, or too many bad tokens in the
    failure window (a token guesser is shut out long before a guess could succeed)."""
    minute = int(now // 60)
    opens_key = f"annotation:invite-opens:{address}:{minute}"
    opens = _incr(opens_key, 120)
    if opens > _limit("QASYNTH_INVITE_OPENS_PER_MINUTE", 120):
        return True
    failures = cache.get(_failure_key(address, now)) or 0
    return failures >= _limit("QASYNTH_INVITE_FAILURE_LIMIT", 20)


def record_failure(address: str, token: str, reason: str, now: float) -> int:
    """Count and log a refused token (only a short prefix of it goes to the log)."""
    count = _incr(_failure_key(address, now), _window())
    logger.warning(
        "invitation refused (%s) from %s: token %r..., failure %d in this window", reason, address, token[:8], count
    )
    return count


def _window() -> int:
    return _limit("QASYNTH_INVITE_FAILURE_WINDOW_SECONDS", 900)


def _failure_key(address: str, now: float) -> str:
    return f"annotation:invite-failures:{address}:{int(now // _window())}"


def _incr(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1
