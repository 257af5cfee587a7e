"""Review photos in Blob Storage (Azurite) through the managed identity, via the real views."""

import html
import io
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import ExifTags, Image

from localazure.azurite import Azurite
from localazure.services import base_env, shell_output
from restaurant_review.models import Review
from restaurant_review.photos import stored_names
from tests.helpers import BlobApp, image_bytes, review_insert_fails, upload, within_one_window

pytestmark = [pytest.mark.azurite, pytest.mark.django_db]


def fetch(url: str, ca_file: Any) -> tuple[int, bytes, Any]:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def photo_urls(page: str) -> list[str]:
    """The links to the full photos on a page (a restaurant page with its photos' own pages,
    as details() gives it), then every rendition URL in their srcsets, each once (the photo
    strip and the review show the same renditions)."""
    full = re.findall(r'<a class="full-photo" href="([^"]+)">', page)
    tiles = [
        url
        for srcset in re.findall(r'srcset="([^"]+)"', page)
        for url in re.findall(r"(\S+) \d+w", srcset)
    ]
    return list(dict.fromkeys(html.unescape(url) for url in full + tiles))


def post_review(client: Client, restaurant: Any, review_data: Any, photo: bytes) -> Any:
    url = reverse("restaurant_review:add_review", args=[restaurant.pk])
    return client.post(url, {**review_data, "photo": upload("dinner.jpg", photo)})


def details(client: Client, restaurant: Any) -> str:
    """The restaurant's page, then each of its reviews' photo pages (where the full photo is
    linked), as one text."""
    page = client.get(reverse("restaurant_review:details", args=[restaurant.pk])).content.decode()
    photo_pages = re.findall(r'<a class="review-photo" href="([^"]+)">', page)
    return page + "".join(client.get(url).content.decode() for url in photo_pages)


def test_review_photo_goes_to_private_container_with_sas_link(
    client: Client, make_restaurant: Any, review_data: Any, jpeg_with_gps: bytes, blob_app: BlobApp
) -> None:
    restaurant = make_restaurant()
    response = post_review(client, restaurant, review_data, jpeg_with_gps)
    assert response.status_code == HTTPStatus.FOUND
    review = Review.objects.get()
    assert blob_app.blob_names() == sorted(stored_names(review.photo.name))

    properties = blob_app.admin.get_blob_client(review.photo.name).get_blob_properties()
    assert properties.content_settings.content_type == "image/jpeg"
    assert properties.content_settings.cache_control == "public, max-age=31536000, immutable"
    stored = blob_app.admin.download_blob(review.photo.name).readall()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    url = photo_urls(details(client, restaurant))[0]  # the full photo
    assert "sig=" in url and "skoid=" in url  # a user-delegation SAS
    status, body, headers = fetch(url, blob_app.azurite.ca_file)
    assert status == HTTPStatus.OK and body == stored
    assert headers["Content-Type"] == "image/jpeg"
    # The container is private: the same URL without its SAS is refused.
    assert fetch(url.split("?")[0], blob_app.azurite.ca_file)[0] >= 400


@pytest.mark.parametrize("blob_app", ["public"], indirect=True)
def test_public_container_with_plain_urls(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp
) -> None:
    restaurant = make_restaurant()
    png = image_bytes("PNG")
    url = reverse("restaurant_review:add_review", args=[restaurant.pk])
    response = client.post(url, {**review_data, "photo": upload("p.png", png, "image/png")})
    assert response.status_code == HTTPStatus.FOUND
    name = Review.objects.get().photo.name
    url = photo_urls(details(client, restaurant))[0]  # the full photo
    assert "?" not in url and url.endswith(name)
    status, body, headers = fetch(url, blob_app.azurite.ca_file)
    assert status == HTTPStatus.OK and headers["Content-Type"] == "image/png"
    assert body == blob_app.admin.download_blob(name).readall()


def test_upload_refused_token_keeps_input_and_stores_nothing(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp, caplog: Any
) -> None:
    blob_app.endpoint.client_ids.clear()  # the identity is no longer assigned
    restaurant = make_restaurant()
    response = post_review(client, restaurant, review_data, image_bytes())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    page = response.content.decode()
    assert "Your photo could not be stored just now" in page
    assert 'value="Ana"' in page and "Best dumplings in town.</textarea>" in page
    assert Review.objects.count() == 0 and blob_app.blob_names() == []
    assert f"client id {blob_app.client_id}" in caplog.text


def test_upload_with_storage_down_keeps_input_and_stores_nothing(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp, settings: Any
) -> None:
    stopped = Azurite(blob_app.azurite.executable)  # a Storage endpoint with nothing behind it
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "azureproject.storage.AzureBlobPhotoStorage",
            "OPTIONS": blob_app.storage_options(account_url=stopped.account_url),
        },
    }
    try:
        response = post_review(client, make_restaurant(), review_data, image_bytes())
    finally:
        stopped.cleanup()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "Your photo could not be stored just now" in response.content.decode()
    assert Review.objects.count() == 0


def test_database_failure_after_upload_leaves_no_blob(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp
) -> None:
    restaurant = make_restaurant()

    with review_insert_fails():
        response = post_review(client, restaurant, review_data, image_bytes())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert Review.objects.count() == 0
    assert blob_app.blob_names() == []
    assert blob_app.token_calls() == 1  # the upload did happen, then was undone


def test_page_of_photos_costs_a_constant_number_of_storage_calls(
    client: Client, make_restaurant: Any, blob_app: BlobApp
) -> None:
    restaurant = make_restaurant()
    storage = storages["default"]
    for index in range(10):
        name = storage.save(f"reviews/p{index}.jpg", ContentFile(image_bytes(), name="p.jpg"))
        Review.objects.create(
            restaurant=restaurant, user_name=f"G{index}", rating=3, review_text="ok", photo=name
        )
    token_calls = blob_app.token_calls()
    key_requests = blob_app.azurite.requests_logged("comp=userdelegationkey")

    first, second = details(client, restaurant), details(client, restaurant)
    assert len(photo_urls(first)) == 10 and photo_urls(first) == photo_urls(second)
    blob_app.azurite.flush_log(blob_app.endpoint)
    # One key for both pages and all their photos, seen from Azurite's side.
    assert blob_app.azurite.requests_logged("comp=userdelegationkey") == key_requests + 1
    assert blob_app.token_calls() == token_calls  # the token from the uploads is reused
    status, _, _ = fetch(photo_urls(second)[-1], blob_app.azurite.ca_file)
    assert status == HTTPStatus.OK


def test_admin_delete_removes_the_blob(
    admin_client: Client,
    make_restaurant: Any,
    review_data: Any,
    blob_app: BlobApp,
    django_capture_on_commit_callbacks: Any,
) -> None:
    post_review(admin_client, make_restaurant(), review_data, image_bytes())
    review = Review.objects.get()
    assert blob_app.blob_names() == sorted(stored_names(review.photo.name))
    page = admin_client.get(
        reverse("admin:restaurant_review_review_change", args=[review.pk])
    ).content.decode()
    assert "sig=" in page  # the admin preview uses a working link too
    delete = reverse("admin:restaurant_review_review_delete", args=[review.pk])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(delete, {"post": "yes"})
    assert blob_app.blob_names() == []


def test_existing_blob_is_never_overwritten(blob_app: BlobApp) -> None:
    storage = storages["default"]
    blob_app.admin.upload_blob("reviews/taken.jpg", b"original")
    with pytest.raises(FileExistsError):
        storage.save("reviews/taken.jpg", ContentFile(b"new", name="taken.jpg"))
    assert blob_app.admin.download_blob("reviews/taken.jpg").readall() == b"original"
    name = storage.save("reviews/free.jpg", ContentFile(b"new", name="free.jpg"))
    assert storage.open(name).read() == b"new"
    assert storage.exists(name) and storage.size(name) == 3
    storage.delete(name)
    assert not storage.exists(name)


def test_check_reports_missing_container_and_refused_identity(
    blob_app: BlobApp, settings: Any
) -> None:
    from azureproject.storage import AzureBlobPhotoStorage

    assert blob_app.storage_options()["container"] in storages["default"].check()[1]
    assert storages["default"].check()[0] is True
    missing = AzureBlobPhotoStorage(**blob_app.storage_options(container="no-such-container"))
    ok, detail = missing.check()
    assert not ok and "container 'no-such-container' does not exist" in detail
    refused = AzureBlobPhotoStorage(**blob_app.storage_options(client_id="not-assigned"))
    ok, detail = refused.check()
    assert not ok and "client id not-assigned" in detail


def test_health_says_only_which_part_fails_and_logs_the_details(
    client: Client, blob_app: BlobApp, settings: Any, caplog: Any
) -> None:
    """Anyone may call /healthz: it tells no host, role, identity, URL or container."""
    assert client.get("/healthz").json() == {"status": "ok"}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "azureproject.storage.AzureBlobPhotoStorage",
            "OPTIONS": blob_app.storage_options(container="no-such-container"),
        },
    }
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK  # browsing works without photo storage
    assert response.content == b'{"status": "ok", "failing": ["storage"]}'
    assert "container 'no-such-container' does not exist" in caplog.text
    for secret_ish in [blob_app.client_id, blob_app.azurite.account_url, "no-such-container"]:
        assert secret_ish not in response.content.decode()


def sas_fields(url: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&"))


def test_photo_links_are_the_same_across_views_storages_and_processes(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp, settings: Any
) -> None:
    """Browsers and CDNs can cache a photo only if its link stays byte-identical: for every
    view, every storage instance (worker) and every process (instance) in a window."""
    from azureproject.storage import AzureBlobPhotoStorage

    restaurant = make_restaurant()
    post_review(client, restaurant, review_data, image_bytes("JPEG", size=(1600, 1200)))
    name = Review.objects.get().photo.name
    other_worker = AzureBlobPhotoStorage(**blob_app.storage_options())
    env = base_env(
        **blob_app.endpoint.env,
        AZURE_STORAGEBLOB_RESOURCEENDPOINT=blob_app.azurite.account_url,
        STORAGE_CONTAINER_NAME=blob_app.container,
        AZURE_CLIENT_ID=blob_app.client_id,
        REQUESTS_CA_BUNDLE=str(blob_app.azurite.ca_file),
    )
    script = (
        f"from django.core.files.storage import storages; print(storages['default'].url({name!r}))"
    )

    def links() -> tuple[list[str], list[str], str, str]:
        """The page's links twice, then the full photo's from another worker's storage and
        from another process (instance)."""
        urls = photo_urls(details(client, restaurant))
        again = photo_urls(details(client, restaurant))
        return urls, again, other_worker.url(name), shell_output(script, env=env)

    urls, again, other_worker_url, other_instance_url = within_one_window(
        other_worker.url_version, lambda _: links()
    )
    assert len(urls) == 4  # the full photo, then its 3 renditions
    assert again == urls
    assert other_worker_url == urls[0]
    assert other_instance_url == urls[0]  # another instance signs the same URL
    # Each link is short-lived all the same: at most two SAS lifetimes (plus clock skew).
    fields = sas_fields(urls[0])
    start = datetime.fromisoformat(urllib.parse.unquote(fields["st"]))
    expiry = datetime.fromisoformat(urllib.parse.unquote(fields["se"]))
    assert expiry - datetime.now(UTC) <= timedelta(minutes=2 * 60)
    assert expiry - start <= timedelta(minutes=2 * 60 + 15)
    for url in urls:
        status, _, headers = fetch(url, blob_app.azurite.ca_file)
        assert status == HTTPStatus.OK, url
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_purge_deletes_orphan_blobs_and_keeps_referenced_ones(
    client: Client, make_restaurant: Any, review_data: Any, blob_app: BlobApp
) -> None:
    post_review(client, make_restaurant(), review_data, image_bytes())
    kept = Review.objects.get().photo.name
    blob_app.admin.upload_blob("reviews/stalled-upload.jpg", b"finished after a 503")
    out = io.StringIO()
    call_command("purge_orphan_photos", stdout=out)  # the default grace period: all too young
    assert "0 deleted, 1 younger than 3600 s kept" in out.getvalue()
    call_command("purge_orphan_photos", "--older-than", "0", stdout=out)
    assert blob_app.blob_names() == sorted(stored_names(kept))
