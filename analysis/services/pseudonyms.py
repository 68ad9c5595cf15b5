"""Judge pseudonyms for exports and the API: stable within a session, unlinkable across sessions.

A pseudonym is an HMAC of (session, user id) under SECRET_KEY, so the same judge keeps one name in every
export of a session (analyses can group by judge) but a reader cannot match judges between sessions or
recover the user id without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User

from annotation.models import JudgingSession, Judgment

PREFIX = "judge-"
MIN_HEX = 4


def _digest(session_id: int, user_id: int) -> str:
    message = f"qasynth-judge-pseudonym:{session_id}:{user_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def pseudonyms(session: JudgingSession | int, user_ids: Iterable[int]) -> dict[int, str]:
    """user id -> "judge-3f2a" (longer where two judges of the session would share a prefix)."""
    session_id = session if isinstance(session, int) else session.pk
    digests = {int(uid): _digest(session_id, int(uid)) for uid in set(user_ids)}
    length = MIN_HEX
    while len({d[:length] for d in digests.values()}) < len(digests):
        length += 2
    return {uid: PREFIX + digest[:length] for uid, digest in digests.items()}


def session_judge_ids(session: JudgingSession) -> list[int]:
    """Everyone who judged in the session, so a pseudonym's length does not depend on an export's page."""
    return list(Judgment.objects.filter(session=session).order_by().values_list("judge_id", flat=True).distinct())


def display_names(session: JudgingSession, user_ids: Iterable[int], *, usernames: bool) -> dict[int, str]:
    """Names for these users: their usernames (staff pages, opt-in exports) or the session's pseudonyms."""
    ids = [int(uid) for uid in user_ids]
    if usernames:
        found = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
        return {uid: found.get(uid, f"user-{uid}") for uid in ids}
    names = pseudonyms(session, [*ids, *session_judge_ids(session)])
    return {uid: names[uid] for uid in ids}
