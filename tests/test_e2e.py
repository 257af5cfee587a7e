"""End to end in a real browser: Playwright driving Debian's Chromium against the app served by
start.sh on loopback in Azure mode (real PostgreSQL, Azurite, the test identity endpoint,
HTTPS), as visitors and staff use it on App Service. The embedded default is driven by the same
browser in test_design.py. Screenshots go to test-artifacts/ (not committed)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import trustme

from localazure.azurite import Azurite
from localazure.postgres import PostgresServer, make_postgres_app
from localazure.services import PROJECT_DIR, AppServer, base_env, manage
from tests.helpers import azure_mode_settings, image_bytes

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_DIR / "test-artifacts"
ADMIN_USER, ADMIN_PASSWORD = "admin", "e2e-" + "Str0ng-pass!"


def manage_ok(*args: str, env: dict[str, str]) -> None:
    result = manage(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def live_app(
    postgres_server: PostgresServer, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """The module's server, in Azure mode, with 25 demo restaurants: test_browse_and_search,
    first, counts on them. (The embedded default is in the browser in test_design.py.)"""
    tmp_path = tmp_path_factory.mktemp("e2e")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "app.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "app.key"))
    tls = (tmp_path / "app.crt", tmp_path / "app.key")
    # A copy of a database migrated once per server (migrate_template): start.sh's migration
    # finds nothing to do, as on any start after the first deploy.
    postgres_app = make_postgres_app(postgres_server, migrated=True)
    settings = azure_mode_settings(postgres_app, azurite)
    # The browser reaches the instance directly, so its address is an allowed host.
    env = base_env(**settings, DJANGO_ALLOWED_HOSTS="127.0.0.1")
    server = AppServer(
        {**env, "GUNICORN_THREADS": "8"}, tmp_path / "server.log", tls=tls, start_sh=True
    ).start()  # as App Service starts it, through start.sh
    try:
        manage_ok("seed_demo", "--restaurants", "25", "--reviews", "50", env=env)
        manage_ok(
            "createsuperuser",
            "--noinput",
            "--username",
            ADMIN_USER,
            "--email",
            "a@example.com",
            env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
        )
        yield server
    finally:
        server.stop()
        postgres_app.endpoint.stop()


@pytest.fixture
def page(browser: Any, live_app: AppServer) -> Iterator[Any]:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_browse_and_search(page: Any, live_app: AppServer) -> None:
    page.goto(live_app.url + "/")
    assert page.locator(".restaurant-grid .restaurant-card").count() == 24
    assert (
        "out of 5" in page.locator(".restaurant-grid .restaurant-card").first.inner_text()
        or page.locator(".stars-none").count()
    )
    screenshot(page, "home")
    page.get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator(".restaurant-grid .restaurant-card").count() == 1
    page.get_by_role("link", name="Page 1").click()
    page.wait_for_url(re.compile(r"page=1"))
    word = page.locator(".restaurant-grid h2").first.inner_text().split()[-1]
    page.get_by_label("Search restaurants").fill(word.upper())
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q="))
    names = page.locator(".restaurant-grid h2").all_inner_texts()
    assert names and word.lower() in names[0].lower()  # name matches first
    # A filter applies as soon as it is chosen (Apply is for pages without JavaScript), and
    # the address carries only what was chosen.
    assert not page.get_by_role("button", name="Apply").is_visible()
    page.get_by_label("Sort by").select_option("rating")
    page.wait_for_url(re.compile(r"sort=rating"))
    assert "cuisine=" not in page.url and "price=" not in page.url
    shown = page.locator(".restaurant-grid .stars-number").all_inner_texts()
    assert shown == sorted(shown, key=float, reverse=True)
    assert page.get_by_label("Search restaurants").input_value() == word.upper()
    names = page.locator(".restaurant-grid h2").all_inner_texts()
    page.locator(".restaurant-grid h2 a").first.click()
    assert page.locator("h1").inner_text() == names[0]
    screenshot(page, "restaurant")


def test_add_restaurant_and_post_review_with_photo(
    page: Any, live_app: AppServer, tmp_path: Path
) -> None:
    photo = tmp_path / "dinner.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(640, 480), gps=True))
    page.goto(live_app.url + "/")
    page.get_by_role("link", name="Add a restaurant").first.click()
    page.get_by_label("Name").fill("E2E Bistro")
    page.get_by_label("Street address").fill("1 Browser Way")
    page.get_by_label("Description").fill("Tested by a real browser.")
    page.get_by_role("button", name="Add restaurant").click()
    page.get_by_text("Restaurant “E2E Bistro” was added.").wait_for()
    assert page.locator("h1").inner_text() == "E2E Bistro"

    page.get_by_label("Your name").fill("Robo")
    page.get_by_role("radio", name="4 stars").check()
    page.get_by_role("textbox", name="Review").fill("Crisp and quick.")
    page.get_by_label("Photo (optional)").set_input_files(str(photo))
    with page.expect_response(
        lambda r: "reviews/" in r.url and r.request.resource_type == "image"
    ) as photo_response:
        page.get_by_role("button", name="Post review").click()
    # The tile is a WebP rendition, the narrowest that fills 320 CSS px.
    assert photo_response.value.status == 200
    assert photo_response.value.headers["content-type"] == "image/webp"
    page.get_by_text("Thank you! Your review was posted.").wait_for()
    image = page.get_by_alt_text("Photo from Robo's review of E2E Bistro")
    image.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) == 320
    assert "Rated 4 out of 5" in page.locator(".rating-summary").inner_text()
    screenshot(page, "review-posted")
    # The tile opens the photo's own page, which links the full photo.
    page.locator("a.review-photo").first.click()
    page.locator(".photo-page").wait_for()
    href = page.locator("a.full-photo").get_attribute("href")
    full = page.request.get(urljoin(page.url, href))
    assert full.status == 200 and full.headers["content-type"] == "image/jpeg"


def test_validation_error_is_shown_next_to_its_field_with_input_kept(
    page: Any, live_app: AppServer
) -> None:
    page.goto(live_app.url + "/restaurant/1/")
    page.get_by_label("Your name").fill("Hasty")
    page.get_by_role("textbox", name="Review").fill("Forgot the stars.")
    page.get_by_role("button", name="Post review").click()
    # The click returns once the answer's page has begun to arrive: read it once it is all in.
    page.wait_for_load_state()
    field = page.locator(".field-invalid")
    assert field.count() == 1
    assert "Choose a rating" in field.inner_text()
    assert field.get_by_role("radio").first.get_attribute("name") == "rating"
    assert page.get_by_label("Your name").input_value() == "Hasty"
    assert page.get_by_role("textbox", name="Review").input_value() == "Forgot the stars."
    screenshot(page, "validation-error")


def test_admin_login_and_edit_review(page: Any, live_app: AppServer) -> None:
    page.goto(live_app.url + "/admin/")
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Reviews", exact=True).click()
    page.locator("#result_list tbody tr th a").first.click()
    page.get_by_role("textbox", name="Review:", exact=True).fill("Edited in the admin.")
    page.get_by_label("Rating").fill("5")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    screenshot(page, "admin")
    page.goto(live_app.url + "/admin/restaurant_review/review/?q=Edited")
    assert page.locator("#result_list tbody tr").count() == 1
