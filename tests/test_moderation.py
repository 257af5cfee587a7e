"""Moderation: hidden reviews leave every page, count and average at once; visitors report
reviews; the admin's queue of reported reviews with bulk hide, show and delete; staff see an
edit link on public pages."""

from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from restaurant_review.models import Report, Review
from tests.helpers import NO_REPORTS_INLINE, image_bytes, upload

pytestmark = pytest.mark.django_db

INDEX = reverse("restaurant_review:index")
QUEUE = reverse("admin:restaurant_review_reportedreview_changelist")
REVIEWS = reverse("admin:restaurant_review_review_changelist")


def report_url(review: Review) -> str:
    return reverse("restaurant_review:report_review", args=[review.pk])


def act(admin_client: Client, url: str, action: str, *reviews: Review) -> Any:
    return admin_client.post(
        url, {"action": action, "_selected_action": [str(r.pk) for r in reviews]}, follow=True
    )


def test_a_hidden_review_leaves_pages_counts_and_averages_at_once(
    admin_client: Client, client: Client, make_restaurant: Any, make_review: Any
) -> None:
    restaurant = make_restaurant(name="Rated Place")
    make_review(restaurant=restaurant, rating=5, review_text="Wonderful.")
    spam = make_review(restaurant=restaurant, rating=1, review_text="Buy pills at spam.example")
    url = restaurant.get_absolute_url()
    page = client.get(url).content.decode()  # cached now
    assert "spam.example" in page and "rated 3 out of 5 from 2 reviews" in page
    assert "2 reviews" in client.get(INDEX).content.decode()

    act(admin_client, REVIEWS, "hide", spam)
    assert Review.objects.get(pk=spam.pk).hidden
    page = client.get(url).content.decode()
    assert "spam.example" not in page and "rated 5 out of 5 from 1 review" in page
    assert "1 review" in client.get(INDEX).content.decode()
    # Its report page is gone too.
    assert client.get(report_url(spam)).status_code == HTTPStatus.NOT_FOUND

    act(admin_client, REVIEWS, "unhide", spam)
    assert "spam.example" in client.get(url).content.decode()


def test_visitors_report_a_review_once_each_with_a_reason(client: Client, make_review: Any) -> None:
    review = make_review(review_text="Rude words here.")
    form = client.get(report_url(review))
    assertContains(form, "Report a review")
    assertContains(form, "Rude words here.")
    empty = client.post(report_url(review), {"reason": "  "})
    assertContains(empty, "Say what is wrong with this review", status_code=HTTPStatus.BAD_REQUEST)
    sent = client.post(report_url(review), {"reason": "Offensive"})
    assertRedirects(sent, review.restaurant.get_absolute_url(), fetch_redirect_response=False)
    assert [str(m) for m in get_messages(sent.wsgi_request)] == [
        "Thank you: a moderator will look at this review."
    ]
    client.get(sent["Location"])  # the message shown
    again = client.post(report_url(review), {"reason": "Offensive!"}, follow=True)
    assertContains(again, "You have reported this review already.")
    Client(REMOTE_ADDR="127.0.0.40").post(report_url(review), {"reason": "Spam"})
    assert sorted(Report.objects.values_list("reason", flat=True)) == ["Offensive", "Spam"]
    # Every review on the page has its report link.
    page = client.get(review.restaurant.get_absolute_url())
    assertContains(page, f'href="{report_url(review)}"')


def test_the_queue_lists_reported_reviews_with_text_photo_and_count_most_reported_first(
    admin_client: Client, client: Client, make_restaurant: Any, review_data: Any
) -> None:
    restaurant = make_restaurant()
    client.post(
        reverse("restaurant_review:add_review", args=[restaurant.pk]),
        {**review_data, "photo": upload("a.jpg", image_bytes())},
    )
    with_photo = Review.objects.get()
    other = Review.objects.create(
        restaurant=restaurant, user_name="Bo", rating=2, review_text="Meh"
    )
    Review.objects.create(restaurant=restaurant, user_name="Cy", rating=4, review_text="Unreported")
    Report.objects.create(review=other, reason="Spam")
    for reason in ("Fake", "Offensive"):
        Report.objects.create(review=with_photo, reason=reason)

    queue = admin_client.get(QUEUE)
    html = queue.content.decode()
    assert "Best dumplings in town." in html and "Meh" in html and "Unreported" not in html
    assert html.index("Best dumplings in town.") < html.index("Meh")  # most reported first
    thumbnail = with_photo.photo.url.removesuffix(".jpg") + "-320w.webp"
    assert f'<img src="{thumbnail}"' in html
    assert '<td class="field-report_count">2</td>' in html
    # What the reports say, in the list; and in words whether each review is on the site.
    assert "<li>Fake</li>" in html and "<li>Offensive</li>" in html
    assert '<td class="field-visibility">Shown</td>' in html

    act(admin_client, QUEUE, "hide", with_photo, other)
    assert Review.objects.filter(hidden=True).count() == 2
    # Handled: off the open queue (its default), listed under "Handled (hidden)".
    assert "Meh" not in admin_client.get(QUEUE).content.decode()
    handled = admin_client.get(QUEUE + "?status=handled").content.decode()
    assert "Meh" in handled and '<td class="field-visibility">Hidden</td>' in handled
    act(admin_client, QUEUE + "?status=all", "unhide", other)
    act(admin_client, QUEUE + "?status=all", "dismiss_reports", other)
    assert not Report.objects.filter(review=other).exists()
    assert "Meh" not in admin_client.get(QUEUE).content.decode()  # handled: off the queue
    deleted = admin_client.post(
        QUEUE + "?status=handled",  # it is hidden: handled
        {"action": "delete_selected", "_selected_action": [str(with_photo.pk)], "post": "yes"},
    )
    assert deleted.status_code == HTTPStatus.FOUND
    assert not Review.objects.filter(pk=with_photo.pk).exists()


def test_staff_see_an_edit_link_on_public_pages_and_visitors_do_not(
    admin_client: Client, client: Client, make_review: Any
) -> None:
    review = make_review()
    url = review.restaurant.get_absolute_url()
    edit = reverse("admin:restaurant_review_review_change", args=[review.pk])
    assertNotContains(client.get(url), edit)  # cached for visitors first
    assertContains(admin_client.get(url), edit)
    assertContains(admin_client.get(url), "Edit this review")
    assertNotContains(client.get(url), edit)  # and the staff variant does not leak


def review_with_photo(client: Client, make_restaurant: Any) -> Review:
    restaurant = make_restaurant()
    data = {
        "user_name": "Ana",
        "rating": "1",
        "review_text": "See for yourself.",
        "photo": upload("big.jpg", image_bytes("JPEG", size=(1600, 1200))),
    }
    client.post(reverse("restaurant_review:add_review", args=[restaurant.pk]), data)
    return Review.objects.get()


def test_a_moderator_clears_a_reviews_photo_and_the_review_stays_without_it(
    admin_client: Client,
    client: Client,
    make_restaurant: Any,
    media_files: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    review = review_with_photo(client, make_restaurant)
    page_url = review.restaurant.get_absolute_url()
    assert len(media_files()) > 1  # the photo and its renditions
    assertContains(client.get(page_url), review.photo.url)

    change = reverse("admin:restaurant_review_review_change", args=[review.pk])
    form = {
        "restaurant": str(review.restaurant_id),
        "user_name": review.user_name,
        "rating": str(review.rating),
        "review_text": review.review_text,
        "photo-clear": "on",
        **NO_REPORTS_INLINE,
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(change, form).status_code == HTTPStatus.FOUND
    kept = Review.objects.get(pk=review.pk)
    assert kept.photo.name == "" and kept.photo_width is None
    assert media_files() == []  # every rendition gone from storage
    page = client.get(page_url)
    assertContains(page, "See for yourself.")
    assertNotContains(page, review.photo.url.removesuffix(".jpg"))  # nor any rendition


def test_the_queue_removes_the_photos_of_reported_reviews_and_keeps_them(
    admin_client: Client,
    client: Client,
    make_restaurant: Any,
    media_files: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    review = review_with_photo(client, make_restaurant)
    Report.objects.create(review=review, reason="Offensive picture")
    stem = review.photo.url.removesuffix(".jpg")
    assertContains(client.get(review.restaurant.get_absolute_url()), stem)  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        answer = act(admin_client, QUEUE, "remove_photos", review)
    assert "1 photo removed." in [str(m) for m in get_messages(answer.wsgi_request)]
    assert Review.objects.get(pk=review.pk).photo.name == "" and media_files() == []
    page = client.get(review.restaurant.get_absolute_url())
    assertContains(page, "See for yourself.")
    assertNotContains(page, stem)


def test_deleting_from_the_queue_removes_the_photo_files_and_the_review_from_its_page(
    admin_client: Client,
    client: Client,
    make_restaurant: Any,
    media_files: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    review = review_with_photo(client, make_restaurant)
    Report.objects.create(review=review, reason="Spam")
    url = review.restaurant.get_absolute_url()
    assertContains(client.get(url), "See for yourself.")  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            QUEUE,
            {"action": "delete_selected", "_selected_action": [str(review.pk)], "post": "yes"},
        )
    assert not Review.objects.exists() and media_files() == []
    assertNotContains(client.get(url), "See for yourself.")


def test_staff_see_hidden_reviews_on_the_public_page_marked_and_visitors_do_not(
    admin_client: Client, client: Client, make_review: Any
) -> None:
    review = make_review(review_text="Rude words here.", hidden=True)
    url = review.restaurant.get_absolute_url()
    assertNotContains(client.get(url), "Rude words here.")
    staff_page = admin_client.get(url)
    assertContains(staff_page, "Rude words here.")
    assertContains(staff_page, "Hidden from the site")
    assertNotContains(client.get(url), "Rude words here.")  # the staff variant does not leak
