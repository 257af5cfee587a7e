"""Staff sign in with Microsoft Entra ID through App Service authentication ("Easy Auth").

With authentication on (App Service sets WEBSITE_AUTH_ENABLED=True) in Azure mode, App
Service's front end signs people in and passes who they are in X-MS-CLIENT-PRINCIPAL (base64
JSON: `auth_typ`, `claims` as `typ`/`val` pairs, `name_typ`, `role_typ`), removing any such
header a client sends. Then:
- the admin needs a principal: without one, /admin/... goes to /.auth/login/aad and back;
- app role `Admin` is a superuser; app role `Moderator` may handle reviews and reports
  (the group "Moderators"), not users, groups or restaurants; neither: a 403 page;
- a Django user per Entra object id, its name, email and rights set from the claims on every
  request, so a role removed in Entra ends access at once;
- no password: the login form is neither shown nor accepted, and logout is /.auth/logout.
Public pages stay anonymous. Without authentication on, these headers are ignored.
"""

import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import loader

logger = logging.getLogger(__name__)

PRINCIPAL_HEADER = "HTTP_X_MS_CLIENT_PRINCIPAL"
PRINCIPAL_ID_HEADER = "HTTP_X_MS_CLIENT_PRINCIPAL_ID"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
EMAIL_CLAIMS = (
    "preferred_username",
    "email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
)
ADMIN_ROLE, MODERATOR_ROLE = "Admin", "Moderator"
STAFF_ROLES = frozenset({ADMIN_ROLE, MODERATOR_ROLE})
MODERATORS_GROUP = "Moderators"
# What a moderator may do: reviews (change, hide: the actions need change), the queue of
# reported ones, reports (handle: dismiss), and see restaurants. Nothing else.
MODERATOR_PERMISSIONS = (
    "view_review",
    "change_review",
    "view_reportedreview",
    "change_reportedreview",
    "view_report",
    "delete_report",
    "view_restaurant",
)
ADMIN_PREFIX = "/admin/"  # azureproject.urls
LOGIN_URL = "/.auth/login/aad"
LOGOUT_URL = "/.auth/logout"


@dataclass(frozen=True)
class Principal:
    object_id: str
    name: str
    email: str
    roles: frozenset[str]


def read_principal(meta: dict[str, Any]) -> Principal | None:
    """Who App Service's front end says signed in; None if nobody (or a header it did not
    write: it removes any a client sends, so a malformed one is logged and ignored)."""
    encoded = meta.get(PRINCIPAL_HEADER)
    if not encoded:
        return None
    try:
        data = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
        claims = [(str(c["typ"]), str(c["val"])) for c in data.get("claims", [])]
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        logger.warning("Ignored an X-MS-CLIENT-PRINCIPAL header that is not the front end's")
        return None

    def first(*types: str) -> str:
        return next((val for typ, val in claims if typ in types and val), "")

    object_id = first(*OBJECT_ID_CLAIMS) or str(meta.get(PRINCIPAL_ID_HEADER, ""))
    if not object_id:
        return None
    role_type = str(data.get("role_typ") or "roles")
    name_type = str(data.get("name_typ") or "name")
    return Principal(
        object_id=object_id,
        name=first(name_type, "name"),
        email=first(*EMAIL_CLAIMS),
        roles=frozenset(val for typ, val in claims if typ == role_type),
    )


def moderators_group() -> Group:
    """The Moderators group, with MODERATOR_PERMISSIONS when it is made."""
    group, created = Group.objects.get_or_create(name=MODERATORS_GROUP)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="restaurant_review", codename__in=MODERATOR_PERMISSIONS
            )
        )
    return group


def user_for(principal: Principal) -> User:
    """The Django user of this Entra object id, its details and rights as the claims say now
    (written only when they changed)."""
    user, _ = User.objects.get_or_create(username=principal.object_id)
    admin = ADMIN_ROLE in principal.roles
    moderator = MODERATOR_ROLE in principal.roles and not admin
    wanted = {
        "first_name": principal.name[:150],
        "email": principal.email[:254],
        "is_staff": admin or moderator,
        "is_superuser": admin,
        "is_active": True,
    }
    changed = [field for field, value in wanted.items() if getattr(user, field) != value]
    if changed:
        for field in changed:
            setattr(user, field, wanted[field])
        user.set_unusable_password()  # never a password to sign in with
        user.save()
    in_group = user.groups.filter(name=MODERATORS_GROUP).exists()
    if moderator and not in_group:
        user.groups.add(moderators_group())
    elif not moderator and in_group:
        user.groups.remove(*user.groups.filter(name=MODERATORS_GROUP))
    return user


def _forbidden(request: HttpRequest) -> HttpResponse:
    body = loader.render_to_string("403.html", request=request)
    return HttpResponse(body, status=403)


class EasyAuthMiddleware:
    """After AuthenticationMiddleware: with ENTRA_SIGN_IN, the user is who the front end
    says, on every request (no session), and the admin follows the rules above."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.ENTRA_SIGN_IN:
            return self.get_response(request)
        principal = read_principal(request.META)
        path = request.path_info
        request.user = AnonymousUser()
        if principal is not None:
            # A User row is made for staff on the admin's pages only (any user of the tenant
            # can sign in, and public pages must not write for each of them); one that exists
            # is brought up to date there, so a role removed in Entra ends its rights.
            staff = bool(principal.roles & STAFF_ROLES)
            known = User.objects.filter(username=principal.object_id)
            if path.startswith(ADMIN_PREFIX) and (staff or known.exists()):
                request.user = user_for(principal)
            elif staff:
                request.user = known.filter(is_staff=True).first() or AnonymousUser()
        if not path.startswith(ADMIN_PREFIX):
            return self.get_response(request)
        if path == f"{ADMIN_PREFIX}logout/":
            return HttpResponseRedirect(f"{LOGOUT_URL}?post_logout_redirect_uri=/")
        if principal is None:
            back = path if path != f"{ADMIN_PREFIX}login/" else ADMIN_PREFIX
            if request.META.get("QUERY_STRING") and path == back:
                back += "?" + request.META["QUERY_STRING"]
            return HttpResponseRedirect(
                f"{LOGIN_URL}?post_login_redirect_uri={quote(back, safe='/')}"
            )
        if not request.user.is_staff:
            logger.warning("Signed in without an app role: %s", principal.object_id)
            return _forbidden(request)
        if path == f"{ADMIN_PREFIX}login/":
            # Signed in already, by Entra: the password form is never shown nor accepted.
            return HttpResponseRedirect(ADMIN_PREFIX)
        return self.get_response(request)
