"""Django's ModelBackend with the per-request user read written out (core.sql_rows).

Every signed-in request reads its user (AuthenticationMiddleware -> django.contrib.auth.get_user ->
backend.get_user). Through the ORM that read cost ~0.6 ms of CPU building and compiling `User.objects.get`,
about a quarter of a judge's request in process (`bench/middleware_cost.py --profile 40 --sort cumulative`),
while the database answers it in a tenth of that. Same row, same rule: a user who is not active is not
signed in (user_can_authenticate), and django.contrib.auth.get_user still checks the session's password
hash against the user it gets back.

Sessions store the dotted path of the backend that signed them in, and a path missing from
AUTHENTICATION_BACKENDS signs the session out; settings therefore keep Django's own ModelBackend listed
after this one for sessions made before it. So that a wrong password is not checked twice (once by each),
this backend ends the chain on bad credentials: Django then reports the failed login (the signal axes
counts) exactly as before.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection

from core.sql_rows import RowReader, columns, fetch_one, table


@cache
def _user_sql(vendor: str) -> str:
    user_model = get_user_model()
    pk = connection.ops.quote_name(user_model._meta.pk.column)
    return f"SELECT {columns(user_model, 'u')} FROM {table(user_model)} u WHERE u.{pk} = %(pk)s"


class ModelBackend(backends.ModelBackend):
    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs: Any):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            raise PermissionDenied("Wrong credentials.")  # not again by a backend listed after this one
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except Exception:  # a session value the pk cannot read (ValidationError): nobody signed in
            return None
        row = fetch_one(_user_sql(connection.vendor), {"pk": pk})
        if row is None:
            return None
        user = RowReader(row).model(user_model)
        return user if self.user_can_authenticate(user) else None
