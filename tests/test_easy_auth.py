"""Staff sign in with Microsoft Entra ID through App Service authentication: the front end's
headers are emulated (tests/helpers.easy_auth_headers); everything behind them is real."""

from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from restaurant_review.models import Restaurant, Review
from tests.helpers import easy_auth_headers

pytestmark = pytest.mark.django_db

ADA = "0a0a0a0a-0000-4000-8000-00000000ada0"
MO = "0b0b0b0b-0000-4000-8000-0000000000b0"
NOBODY = "0c0c0c0c-0000-4000-8000-0000000000c0"
ADMIN = "/admin/"
REVIEWS = reverse("admin:restaurant_review_review_changelist")


@pytest.fixture
def entra(settings: Any) -> None:
    """Azure mode with App Service authentication on (WEBSITE_AUTH_ENABLED=True)."""
    settings.ENTRA_SIGN_IN = True


def as_(object_id: str, *roles: str, **details: str) -> Client:
    return Client(**easy_auth_headers(object_id, roles=roles, **details))


def test_the_admin_without_a_principal_goes_to_entra_sign_in_and_back(
    entra: None, client: Client
) -> None:
    response = client.get(ADMIN)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/.auth/login/aad?post_login_redirect_uri=/admin/"
    deep = client.get(REVIEWS + "?q=soup")
    assert deep["Location"] == (
        "/.auth/login/aad?post_login_redirect_uri=/admin/restaurant_review/review/%3Fq%3Dsoup"
    )
    # Public pages stay anonymous.
    assert client.get("/").status_code == HTTPStatus.OK


def test_the_admin_role_is_a_superuser_kept_up_to_date_from_the_claims(entra: None) -> None:
    ada = as_(ADA, "Admin", name="Ada Lovelace", email="ada@contoso.example")
    assertContains(ada.get(ADMIN), "Site administration")
    assert ada.get(reverse("admin:auth_user_changelist")).status_code == HTTPStatus.OK
    user = User.objects.get(username=ADA)
    assert (user.first_name, user.email, user.is_superuser) == (
        "Ada Lovelace",
        "ada@contoso.example",
        True,
    )
    assert not user.has_usable_password()
    as_(ADA, "Admin", name="Ada King", email="ada.king@contoso.example").get(ADMIN)
    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Ada King", "ada.king@contoso.example")


def test_a_moderator_handles_reviews_and_reports_only(entra: None, make_review: Any) -> None:
    review = make_review()
    mo = as_(MO, "Moderator")
    assert mo.get(ADMIN).status_code == HTTPStatus.OK
    assert mo.get(REVIEWS).status_code == HTTPStatus.OK
    queue = reverse("admin:restaurant_review_reportedreview_changelist")
    assert mo.get(queue).status_code == HTTPStatus.OK
    hide = mo.post(REVIEWS, {"action": "hide", "_selected_action": [str(review.pk)]})
    assert hide.status_code == HTTPStatus.FOUND and Review.objects.get().hidden
    # Not users, groups, nor deleting restaurants.
    for url in (
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_group_changelist"),
        reverse("admin:restaurant_review_restaurant_delete", args=[review.restaurant_id]),
    ):
        assert mo.get(url).status_code == HTTPStatus.FORBIDDEN, url
    assert Restaurant.objects.exists()
    assert not User.objects.get(username=MO).is_superuser


def test_signed_in_without_a_role_gets_a_403_page_and_a_removed_role_ends_access(
    entra: None,
) -> None:
    nobody = as_(NOBODY)
    response = nobody.get(ADMIN)
    assertContains(response, "403", status_code=HTTPStatus.FORBIDDEN)
    assertContains(response, "Restaurant Review", status_code=HTTPStatus.FORBIDDEN)  # layout
    assert as_(ADA, "Admin").get(ADMIN).status_code == HTTPStatus.OK
    # The role is removed in Entra: the next request has no rights.
    assert as_(ADA).get(ADMIN).status_code == HTTPStatus.FORBIDDEN
    assert not User.objects.get(username=ADA).is_staff


def test_no_password_is_offered_or_accepted_and_logout_goes_to_app_service(
    entra: None, django_user_model: Any
) -> None:
    django_user_model.objects.create_superuser("local", "l@example.com", "Local-pass-2026!")
    anonymous = Client()
    assert anonymous.get("/admin/login/")["Location"].startswith("/.auth/login/aad")
    posted = anonymous.post(
        "/admin/login/", {"username": "local", "password": "Local-pass-2026!", "next": ADMIN}
    )
    assert posted["Location"].startswith("/.auth/login/aad")
    assert anonymous.get(ADMIN)["Location"].startswith("/.auth/login/aad")  # not signed in
    ada = as_(ADA, "Admin")
    assert ada.get("/admin/login/")["Location"] == ADMIN  # no form even when signed in
    assert ada.post("/admin/logout/")["Location"] == "/.auth/logout?post_logout_redirect_uri=/"


def test_without_app_service_authentication_the_headers_are_ignored(
    django_user_model: Any,
) -> None:
    """The embedded default (and Azure mode without authentication): anyone could send these
    headers, so they mean nothing, and the password login works as before."""
    forged = as_(ADA, "Admin")
    assert forged.get(ADMIN)["Location"] == "/admin/login/?next=/admin/"
    assert not User.objects.filter(username=ADA).exists()
    django_user_model.objects.create_superuser("local", "l@example.com", "Local-pass-2026!")
    signed_in = forged.post(
        "/admin/login/", {"username": "local", "password": "Local-pass-2026!", "next": ADMIN}
    )
    assert signed_in["Location"] == ADMIN


def test_a_tenant_user_without_a_role_never_becomes_a_user_row(
    entra: None, make_restaurant: Any
) -> None:
    restaurant = make_restaurant()
    for path in ("/", restaurant.get_absolute_url(), ADMIN):
        as_(NOBODY).get(path)
    assert not User.objects.exists()
    # Staff get their row on the admin's pages, not on public ones.
    assert as_(MO, "Moderator").get("/").status_code == HTTPStatus.OK
    assert not User.objects.exists()
    assert as_(MO, "Moderator").get(ADMIN).status_code == HTTPStatus.OK
    assert User.objects.get(username=MO).is_staff
