"""The judging hot path's statements, written out: a returning judge's membership, the item page's read,
a submit's read and the one-statement lease (renewal or a new slot).

Each is the statement the ORM version of the same query emitted (kept behind the same names in
assignment.py and judging.py), written once because compiling it cost more CPU than running it (see
core.sql_rows). Same rules, same guards: tests/annotation/test_hot_path_queries.py and the race tests hold
both databases to them. Plain SQL that PostgreSQL and SQLite both read; parameters are named.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache

from django.contrib.auth.models import Group, User
from django.db import connection

from annotation.models import (
    Assignment,
    InvitationLink,
    InvitedJudge,
    ItemAnswer,
    ItemFlag,
    JudgingSession,
    Judgment,
    JudgmentRevision,
    Recruitment,
    SessionItem,
    SessionJudge,
)
from core.permissions import JUDGES_GROUP, JUDGING_GROUPS
from core.sql_rows import RowReader, cache_related, columns, db_datetime, execute, fetch_all, fetch_one, table


@cache
def _names(vendor: str) -> dict[str, str]:
    """Quoted table names and column lists (vendor: one cache entry per database kind)."""
    user_groups = User.groups.through
    named = JudgingSession.judges.through
    return {
        "a": table(Assignment), "s": table(JudgingSession), "i": table(SessionItem), "j": table(Judgment),
        "r": table(JudgmentRevision), "sj": table(SessionJudge), "ug": table(user_groups), "g": table(Group),
        "named": table(named), "flag": table(ItemFlag), "ia": table(ItemAnswer), "ij": table(InvitedJudge),
        "l": table(InvitationLink), "rc": table(Recruitment), "ij_cols": columns(InvitedJudge, "ij"),
        "l_cols": columns(InvitationLink, "l"),
        "rc_cols": columns(Recruitment, "rc"),
        "sj_cols": columns(SessionJudge, "sj"), "s_cols": columns(JudgingSession, "s"),
        "a_cols": columns(Assignment, "a"), "i_cols": columns(SessionItem, "i"), "j_cols": columns(Judgment, "j"),
        "judging_groups": ", ".join(f"%(judging_group_{n})s" for n in range(len(JUDGING_GROUPS))),
        # PostgreSQL: judges leasing at the same moment skip each other's candidate slot instead of both
        # picking it and one updating nothing (and going the long way); SQLite has one writer at a time.
        "skip_locked": "FOR UPDATE OF w SKIP LOCKED" if vendor == "postgresql" else "",
        # The adaptive rule's order of pairs, passed as parameters (ranked_params): (a, b, o), o = rank.
        "ranked": (
            "SELECT r.a, r.b, r.o FROM unnest(%(rank_a)s::int[], %(rank_b)s::int[]) WITH ORDINALITY AS r(a, b, o)"
            if vendor == "postgresql"
            else "SELECT json_extract(e.value, '$[0]') AS a, json_extract(e.value, '$[1]') AS b, e.key AS o"
            " FROM json_each(%(ranked)s) e"
        ),
    }  # fmt: skip


def names() -> dict[str, str]:
    """Quoted table names and column lists for this connection's database kind (also judging.py's writes)."""
    return _names(connection.vendor)


def _sql(template: str) -> str:
    return template.format(**names())


def _group_params() -> dict[str, str]:
    return {f"judging_group_{n}": name for n, name in enumerate(JUDGING_GROUPS)}


# The judges-only rule (core.permissions.judging_group_rows) for the user %(judge)s.
_JUDGING = """EXISTS (SELECT 1 FROM {ug} ug JOIN {g} g ON g.id = ug.group_id
                      WHERE ug.user_id = %(judge)s AND g.name IN ({judging_groups}))"""

_MEMBERSHIP = f"""
SELECT {{sj_cols}}, {{s_cols}},
    EXISTS (SELECT 1 FROM {{ug}} ug JOIN {{g}} g ON g.id = ug.group_id
            WHERE ug.user_id = %(judge)s AND g.name = %(judges_group)s) AS in_group,
    {_JUDGING} AS judging,
    EXISTS (SELECT 1 FROM {{named}} n WHERE n.judgingsession_id = sj.session_id AND n.user_id = %(judge)s) AS named,
    COALESCE((SELECT MAX(m.sequence) FROM {{a}} m
              WHERE m.session_id = sj.session_id AND m.judge_id = %(judge)s), 0) AS last_sequence,
    (SELECT COUNT(*) FROM {{a}} m
     WHERE m.session_id = sj.session_id AND m.judge_id = %(judge)s AND m.submitted_at IS NOT NULL) AS done,
    p.id AS pending_id, p.token AS pending_token
FROM {{sj}} sj
JOIN {{s}} s ON s.id = sj.session_id
LEFT JOIN {{a}} p ON p.id = (
    SELECT m.id FROM {{a}} m WHERE m.session_id = sj.session_id AND m.judge_id = %(judge)s AND m.submitted_at IS NULL
    ORDER BY m.sequence LIMIT 1)
WHERE sj.session_id = %(session)s AND sj.judge_id = %(judge)s
"""


def membership(session_pk: int, judge_pk: int) -> SessionJudge | None:
    """SessionJudge with its session and, as attributes: in_group, judging, named, last_sequence, done,
    pending_id, pending_token (assignment.membership() says what each is for)."""
    row = fetch_one(
        _sql(_MEMBERSHIP),
        {"session": session_pk, "judge": judge_pk, "judges_group": JUDGES_GROUP, **_group_params()},
    )
    if row is None:
        return None
    read = RowReader(row)
    member = read.model(SessionJudge)
    cache_related(member, "session", read.model(JudgingSession))
    member.in_group, member.judging, member.named = read.flag(), read.flag(), read.flag()
    member.last_sequence, member.done = int(read.value()), int(read.value())
    member.pending_id, member.pending_token = read.value(), read.value()
    return member


# A K-system slot's two answers (ItemAnswer rows); NULL for systems 0 and 1, whose texts are on the item.
_PAIR_TEXT = """(SELECT x.text FROM {{ia}} x WHERE x.item_id = a.item_id AND x.system = a.system_{side}
    AND NOT (a.system_a = 0 AND a.system_b = 1))"""

_PAGE = f"""
SELECT {{a_cols}}, {{s_cols}}, {{i_cols}}, {{j_cols}},
    {_JUDGING} AS judge_in_group,
    (SELECT COUNT(*) FROM {{a}} m
     WHERE m.session_id = a.session_id AND m.judge_id = %(judge)s AND m.submitted_at IS NOT NULL) AS judged,
    EXISTS (SELECT 1 FROM {{a}} m
            WHERE m.session_id = a.session_id AND m.judge_id = %(judge)s AND m.submitted_at IS NULL) AS holding,
    {_PAIR_TEXT.format(side="a")} AS text_a, {_PAIR_TEXT.format(side="b")} AS text_b
FROM {{a}} a
JOIN {{s}} s ON s.id = a.session_id
JOIN {{i}} i ON i.id = a.item_id
LEFT JOIN {{j}} j ON j.assignment_id = a.id
WHERE a.token = %(token)s AND a.judge_id = %(judge)s
"""


def page_assignment(token: str, judge_pk: int) -> Assignment | None:
    """The judge's assignment with session, item and judgment (or None), and judge_in_group, judged, holding;
    `shown_texts` holds a K-system pair's two answers (judging.shown_answers reads them without a query)."""
    row = fetch_one(_sql(_PAGE), {"token": token, "judge": judge_pk, **_group_params()})
    if row is None:
        return None
    read = RowReader(row)
    assignment = read.model(Assignment)
    cache_related(assignment, "session", read.model(JudgingSession))
    cache_related(assignment, "item", read.model(SessionItem))
    _cache_judgment(assignment, read.model(Judgment, nullable=True))
    assignment.judge_in_group, assignment.judged, assignment.holding = read.flag(), int(read.value()), read.flag()
    text_a, text_b = read.value(), read.value()
    if text_a is not None and text_b is not None:
        assignment.shown_texts = (text_a, text_b)
    return assignment


_SUBMIT_TARGET = f"""
SELECT {{a_cols}}, {{s_cols}}, {{j_cols}},
    {_JUDGING} AS judge_in_group,
    EXISTS (SELECT 1 FROM {{r}} r WHERE r.assignment_id = a.id AND r.submission_id = %(submission_id)s) AS repeated
FROM {{a}} a
JOIN {{s}} s ON s.id = a.session_id
LEFT JOIN {{j}} j ON j.assignment_id = a.id
WHERE a.token = %(token)s AND a.judge_id = %(judge)s
"""


def submit_target(token: str, judge_pk: int, submission_id: str | None) -> Assignment | None:
    """The assignment with session and judgment (or None), judge_in_group, and whether submission_id was
    stored already (None: not looked up, False)."""
    params = {"token": token, "judge": judge_pk, "submission_id": submission_id, **_group_params()}
    row = fetch_one(_sql(_SUBMIT_TARGET), params)
    if row is None:
        return None
    read = RowReader(row)
    assignment = read.model(Assignment)
    cache_related(assignment, "session", read.model(JudgingSession))
    _cache_judgment(assignment, read.model(Judgment, nullable=True))
    assignment.judge_in_group = read.flag()
    assignment.repeated = read.flag() if submission_id is not None else False
    return assignment


def _cache_judgment(assignment: Assignment, judgment: Judgment | None) -> None:
    cache_related(assignment, "judgment", judgment)
    if judgment is not None:
        cache_related(judgment, "assignment", assignment)


_RENEW = """
UPDATE {a} SET
    assigned_at = CASE WHEN lease_expires_at IS NULL OR lease_expires_at < %(now)s THEN %(now)s ELSE assigned_at END,
    lease_expires_at = %(expires)s
WHERE id = %(pending)s AND judge_id = %(judge)s AND submitted_at IS NULL
"""


def renew(pending_pk: int, judge_pk: int, now: datetime, expires: datetime) -> bool:
    """Extend the lease of the judge's unjudged assignment (a lease that ran out restarts its clock)."""
    params = {"pending": pending_pk, "judge": judge_pk, "now": db_datetime(now), "expires": db_datetime(expires)}
    return execute(_sql(_RENEW), params) == 1


# A free slot: unjudged, and never leased or its lease ran out. The slot is the first free one, in the
# judge's own permutation, among the first block that has one for this judge and the block after it, of an
# item the judge has not had; the UPDATE checks the slot's freedom again and that the judge holds no
# unjudged slot (two tabs cannot take two slots).
_FREE = """{t}.session_id = %(session)s AND {t}.submitted_at IS NULL
    AND ({t}.judge_id IS NULL OR {t}.lease_expires_at < %(now)s)"""
# Not had by this judge: with two systems, an item they have had; with K > 2 (a slot shows one pair of the
# item's systems), the same item with the same pair, or an item they flagged (assignment.not_seen_by).
_NOT_HAD = {
    False: """{t}.item_id NOT IN (SELECT m.item_id FROM {{a}} m
                              WHERE m.session_id = %(session)s AND m.judge_id = %(judge)s)""",
    True: """({t}.item_id, {t}.system_a, {t}.system_b) NOT IN (SELECT m.item_id, m.system_a, m.system_b FROM {{a}} m
                              WHERE m.session_id = %(session)s AND m.judge_id = %(judge)s)
      AND {t}.item_id NOT IN (SELECT f.item_id FROM {{flag}} f
                              WHERE f.session_id = %(session)s AND f.judge_id = %(judge)s)""",
}


# The slot a lease takes: the first free one in the judge's own permutation (see _FREE and _NOT_HAD).
_PICK = f"""
    SELECT <columns> FROM {{a}} w JOIN {{i}} it ON it.id = w.item_id
    WHERE {_FREE.format(t="w")} AND <not_had_w>
      AND w.block <= (SELECT v.block FROM {{a}} v WHERE {_FREE.format(t="v")} AND <not_had_v>
                      ORDER BY v.block LIMIT 1) + 1
    ORDER BY w.block, (it.shuffle_key * %(perm_a)s + %(perm_c)s) %% %(prime)s, w.slot
    LIMIT 1 {{skip_locked}}"""

_LEASE_SET = """judge_id = %(judge)s, token = %(token)s, seed = %(seed)s, swapped = %(swapped)s,
    sequence = %(sequence)s, assigned_at = %(now)s, lease_expires_at = %(expires)s,
    times_released = CASE WHEN judge_id IS NOT NULL THEN times_released + 1 ELSE times_released END"""

# The judge holds no unjudged slot (two tabs cannot take two slots).
_NOT_HOLDING = """NOT EXISTS (SELECT 1 FROM {a} h WHERE h.session_id = %(session)s AND h.judge_id = %(judge)s
                AND h.submitted_at IS NULL)"""


# The adaptive design decides a slot's pair at its first lease, so the pair an unleased slot stores is a
# placeholder: such a slot is also open when its judge lacks any ranked pair on its item (the `ranked` CTE
# of the lease statement), not only when they lack the placeholder. Without this, a first lease whose
# placeholder the judge already had found nothing and fell back to the long way.
_NOT_HAD_ADAPTIVE = (
    """(""" + _NOT_HAD[True] + """
      OR ({t}.judge_id IS NULL AND {t}.times_released = 0
          AND {t}.item_id NOT IN (SELECT f.item_id FROM {{flag}} f
                                  WHERE f.session_id = %(session)s AND f.judge_id = %(judge)s)
          AND EXISTS (SELECT 1 FROM ranked r WHERE NOT EXISTS (
              SELECT 1 FROM {{a}} h WHERE h.session_id = %(session)s AND h.judge_id = %(judge)s
              AND h.item_id = {t}.item_id
              AND ((h.system_a = r.a AND h.system_b = r.b) OR (h.system_a = r.b AND h.system_b = r.a))))))"""
)


def _pick_sql(pairs: bool, columns: str = "w.id", *, adaptive: bool = False) -> str:
    not_had = _NOT_HAD_ADAPTIVE if adaptive else _NOT_HAD[pairs]
    return (
        _PICK.replace("<columns>", columns)
        .replace("<not_had_w>", not_had.format(t="w"))
        .replace("<not_had_v>", not_had.format(t="v"))
    )


@cache
def _lease_sql(pairs: bool) -> str:
    return f"""
UPDATE {{a}} SET {_LEASE_SET}
WHERE {_FREE.format(t="{a}")} AND id = ({_pick_sql(pairs)})
AND {_NOT_HOLDING}
"""


# A judge's open comparisons (assignment.judge_progress), counted up to a limit: the free slots' distinct items
# (two systems) or (item, pair)s (K > 2) this judge has not had, as the lease's own conditions say.
_OPEN_COMPARISONS = {
    pairs: f"""SELECT COUNT(*) FROM (
    SELECT DISTINCT w.item_id{", w.system_a, w.system_b" if pairs else ""} FROM {{a}} w
    WHERE {_FREE.format(t="w")} AND {_NOT_HAD[pairs].format(t="w")}
    LIMIT %(limit)s) c"""
    for pairs in (False, True)
}


def open_comparisons(session_pk: int, judge_pk: int, now: datetime, *, pairs: bool, limit: int) -> int:
    """How many comparisons (items, or (item, pair)s with K > 2) are still open to the judge, at most limit."""
    params = {"session": session_pk, "judge": judge_pk, "now": db_datetime(now), "limit": limit}
    row = fetch_one(_sql(_OPEN_COMPARISONS[pairs]), params)
    return int(row[0]) if row else 0


def lease_new(
    member: SessionJudge, *, token: str, seed: int, swapped: bool, now: datetime, expires: datetime, prime: int
) -> bool:
    """Give the judge the next free slot in one statement; False when it found none (or lost a race)."""
    params = _lease_params(member, token, seed, swapped, now, expires, prime)
    return execute(_sql(_lease_sql(member.session.n_systems > 2)), params) == 1


def _lease_params(
    member: SessionJudge, token: str, seed: int, swapped: bool, now: datetime, expires: datetime, prime: int
) -> dict:
    return {
        "session": member.session_id, "judge": member.judge_id, "token": token, "seed": seed, "swapped": swapped,
        "sequence": member.last_sequence + 1, "now": db_datetime(now), "expires": db_datetime(expires),
        "perm_a": member.perm_a, "perm_c": member.perm_c, "prime": prime,
    }  # fmt: skip


_INVITED = """
SELECT {ij_cols}, {s_cols}, {l_cols}, {rc_cols}
FROM {ij} ij
JOIN {s} s ON s.id = ij.session_id
JOIN {l} l ON l.id = ij.link_id
LEFT JOIN {rc} rc ON rc.session_id = ij.session_id
WHERE ij.user_id = %(user)s
"""


def invited_judge(user: User) -> InvitedJudge | None:
    """The user's InvitedJudge row with its session, link and the session's Recruitment (or None) in one read:
    what the invitation gate checks on every request of an invited judge."""
    row = fetch_one(_sql(_INVITED), {"user": user.pk})
    if row is None:
        return None
    read = RowReader(row)
    judge = read.model(InvitedJudge)
    session, link = read.model(JudgingSession), read.model(InvitationLink)
    cache_related(session, "recruitment", read.model(Recruitment, nullable=True))
    cache_related(judge, "session", session)
    cache_related(judge, "link", link)
    cache_related(judge, "user", user)
    return judge


# The adaptive design's lease (assignment._lease_adaptive): the slot lease_new would take and, when this is its
# first lease (never leased before: no judge and nothing released), its pair: the first of the adaptive rule's
# ranked pairs (decided before the statement, from the counts kept in memory) that this judge does not already
# have on the slot's item. No such pair left: the scheduled pair stays; a slot leased before keeps its pair.
# So the decision costs no statement of its own: before, a read after the lease and an UPDATE of the pair.
_FIRST_LEASE = "judge_id IS NULL AND times_released = 0"

_LEASE_ADAPTIVE = f"""
WITH ranked AS ({{ranked}}),
pick AS ({_pick_sql(True, "w.id, w.item_id", adaptive=True)}),
pair AS (SELECT r.a, r.b FROM ranked r JOIN pick p ON 1 = 1
    WHERE NOT EXISTS (SELECT 1 FROM {{a}} h WHERE h.session_id = %(session)s AND h.judge_id = %(judge)s
                      AND h.item_id = p.item_id AND h.id <> p.id
                      AND ((h.system_a = r.a AND h.system_b = r.b) OR (h.system_a = r.b AND h.system_b = r.a)))
    ORDER BY r.o LIMIT 1)<leased>
UPDATE {{a}} SET {_LEASE_SET},
    system_a = CASE WHEN {_FIRST_LEASE} THEN COALESCE((SELECT pair.a FROM pair), system_a) ELSE system_a END,
    system_b = CASE WHEN {_FIRST_LEASE} THEN COALESCE((SELECT pair.b FROM pair), system_b) ELSE system_b END
WHERE {_FREE.format(t="{a}")} AND id = (SELECT pick.id FROM pick) AND {_NOT_HOLDING}"""

# The session's judgments per pair newer than a watermark: (system_a, system_b, count, newest id), so counts
# kept in memory (pair_counts) are brought up to date without scanning every judgment of the session.
_BY_PAIR_AFTER = """SELECT j.system_a, j.system_b, COUNT(*), MAX(j.id) FROM {j} j
WHERE j.session_id = %(session)s AND j.id > %(after)s
GROUP BY j.system_a, j.system_b"""

# PostgreSQL: the lease above and the delta read in ONE round trip (a data-modifying CTE; the read sees the
# judgments as they were before the statement), so the next lease's counts are up to date without a read.
_LEASE_ADAPTIVE_COUNTING = (
    _LEASE_ADAPTIVE.replace("<leased>", ",\nleased AS (")
    + """ RETURNING {a}.id)
SELECT 0, 0, 0, l.id FROM leased l
UNION ALL
SELECT * FROM ("""
    + _BY_PAIR_AFTER
    + ") d"
)

PairCounts = list[tuple[int, int, int, int]]


def judgments_by_pair_after(session_pk: int, after_judgment: int) -> PairCounts:
    """(system_a, system_b, count, newest id) of the session's judgments with id > after_judgment."""
    return [tuple(row) for row in fetch_all(_sql(_BY_PAIR_AFTER), {"session": session_pk, "after": after_judgment})]


def lease_new_adaptive(
    member: SessionJudge,
    *,
    token: str,
    seed: int,
    swapped: bool,
    now: datetime,
    expires: datetime,
    prime: int,
    ranked: list[tuple[int, int]],
    after_judgment: int,
) -> tuple[bool, PairCounts | None]:
    """lease_new() for the adaptive design, the pair of a first lease chosen from `ranked` (best first): whether
    it leased, and on PostgreSQL the judgments by pair after `after_judgment`, read by the same statement
    (None elsewhere: the caller reads them before the lease)."""
    params = {**_lease_params(member, token, seed, swapped, now, expires, prime), **_ranked_params(ranked)}
    if connection.vendor != "postgresql":
        # RETURNING, not the row count: Python's sqlite3 counts no rows for a statement that opens with WITH.
        return bool(fetch_all(_sql(_LEASE_ADAPTIVE.replace("<leased>", "") + " RETURNING id"), params)), None
    rows = fetch_all(_sql(_LEASE_ADAPTIVE_COUNTING), {**params, "after": after_judgment})
    # The lease's row has a count of 0 (a pair's row counts at least one judgment) and the slot's id last.
    return any(r[2] == 0 for r in rows), [tuple(r) for r in rows if r[2] != 0]


def _ranked_params(ranked: list[tuple[int, int]]) -> dict:
    if connection.vendor == "postgresql":
        return {"rank_a": [a for a, _b in ranked], "rank_b": [b for _a, b in ranked]}
    return {"ranked": json.dumps(ranked)}
