"""What people meet, in a real browser: every public page passes axe-core with no violations at
desktop and phone widths, nothing scrolls sideways, and a failed form puts the user at its error
summary. Chromium (Debian) with Playwright against start.sh on the embedded default."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localazure.services import (
    PROJECT_DIR,
    AppServer,
    base_env,
    manage,
    migrated_sqlite,
    shell_output,
)
from tests.helpers import image_bytes, unavailable

pytestmark = pytest.mark.browser

# Installed by run-tests.sh (npm), next to the other test caches.
AXE = PROJECT_DIR / ".ci" / "cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = [1280, 390]
ADMIN_PASSWORD = "design-" + "Str0ng-pass!"


@dataclass
class Site:
    url: str
    busy: int  # a restaurant with reviews and photos
    empty: int  # a restaurant without reviews
    down_url: str  # the same site with its database unreachable


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("design")
    database = migrated_sqlite(tmp / "db.sqlite3")
    # Every test here posts from 127.0.0.1: the posting limits (tests/test_limits.py) would
    # turn the module's later posts away.
    env = base_env(SQLITE_PATH=str(database), MEDIA_ROOT=str(tmp / "media"), POST_LIMITS="off")
    seeded = manage(
        "seed_demo", "--restaurants", "30", "--reviews", "150", "--photos", "12", env=env
    )
    assert seeded.returncode == 0, seeded.stderr
    # The busiest restaurant, a new one without reviews, and an admin, in one process.
    busy, empty = shell_output(
        "import os; from django.db.models import Count; "
        "from django.contrib.auth.models import User; "
        "from restaurant_review.models import Restaurant; "
        "busy = Restaurant.objects.annotate(n=Count('reviews')).order_by('-n')[0].pk; "
        "empty = Restaurant.objects.create(name='Quiet Corner', street_address='1 Elm St').pk; "
        "User.objects.create_superuser("
        "'admin', 'a@example.com', os.environ['DJANGO_SUPERUSER_PASSWORD']); "
        "print(busy, empty)",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
    ).split()
    server = AppServer({**env, "GUNICORN_THREADS": "8"}, tmp / "server.log").start()
    # A database that cannot be opened (a directory): every page is the 503 page.
    (tmp / "not-a-database").mkdir()
    down = AppServer(
        base_env(SQLITE_PATH=str(tmp / "not-a-database"), MEDIA_ROOT=str(tmp / "media")),
        tmp / "down.log",
    ).start()
    try:
        yield Site(server.url, int(busy), int(empty), down.url)
    finally:
        server.stop()
        down.stop()


def axe_context(browser: Any, **options: Any) -> Any:
    """A browser context whose every page has axe-core loaded, given to it by the browser as a
    page starts rather than added to each page checked: the 500 KB script is sent once, the
    site's content security policy stays on (what the browser injects, it does not govern),
    and every page is seen as visitors see it."""
    if not AXE.exists():
        unavailable(f"axe-core not found at {AXE} (./run-tests.sh installs it with npm)")
    context = browser.new_context(**options)
    context.add_init_script(path=str(AXE))
    return context


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def page(request: Any, browser: Any) -> Iterator[Any]:
    context = axe_context(browser, viewport={"width": request.param, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def csp_refusals(page: Any) -> list[str]:
    """What the browser refuses under the content security policy from here on, as it says
    on the page's console."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return refused


def axe_violations(page: Any) -> list[str]:
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + json.dumps([node["target"] for node in v["nodes"]][:5])
        for v in violations
    ]


def assert_accessible_and_fits(page: Any, what: str) -> None:
    assert axe_violations(page) == [], what
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways by {overflow} px"


def public_pages(site: Site) -> list[tuple[str, str]]:
    return [
        ("home", "/"),
        ("home, page 2", "/?page=2"),
        ("search results", "/?q=pizza"),
        ("search without results", "/?q=nothing-like-this"),
        ("filtered and sorted", "/?q=a&cuisine=french&price=3&rating=2&sort=rating"),
        ("filters not understood", "/?sort=bogus&price=9"),
        ("restaurant with reviews", f"/restaurant/{site.busy}/"),
        ("reviews by stars, lowest first", f"/restaurant/{site.busy}/?stars=3&order=lowest"),
        ("photo gallery", f"/restaurant/{site.busy}/photos/"),
        ("restaurant without reviews", f"/restaurant/{site.empty}/"),
        ("add a restaurant", "/restaurant/new/"),
        ("report a review", "/review/1/report/"),
        ("404 page", "/restaurant/999999/"),
    ]


def test_public_pages_have_no_axe_violations_and_keep_the_csp(page: Any, site: Site) -> None:
    """Every public page: no axe violation, nothing wider than the screen, the strict security
    headers, and nothing on it refused by the content security policy."""
    refused = csp_refusals(page)
    for what, path in public_pages(site):
        response = page.goto(site.url + path)
        assert response.status in {200, 404}, what
        assert "default-src 'self'" in response.headers["content-security-policy"], what
        assert response.headers["permissions-policy"].startswith("camera=()"), what
        assert response.headers["referrer-policy"] == "same-origin", what
        assert_accessible_and_fits(page, what)
    assert refused == []


def test_forms_with_errors_have_no_axe_violations_and_focus_the_summary(
    page: Any, site: Site
) -> None:
    page.goto(site.url + "/restaurant/new/")
    page.get_by_role("button", name="Add restaurant").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    # Each link names its field.
    assert summary.get_by_role("link").all_inner_texts() == [
        "Enter the restaurant's name",
        "Enter the street address",
    ]
    assert_accessible_and_fits(page, "add a restaurant, with errors")

    page.goto(site.url + f"/restaurant/{site.busy}/")
    page.get_by_label("Your name").fill("Hasty")
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "dish.png", "mimeType": "image/png", "buffer": b"\x89PNG not really"}
    )
    page.get_by_role("button", name="Post review").click()
    page.locator(".error-summary").wait_for()
    page.wait_for_load_state()
    # The page lands at the form, its summary focused and in view, the input kept.
    assert page.url.endswith("#review-form")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    page.locator(".error-summary").wait_for()
    in_view = page.evaluate(
        "(() => { const r = document.querySelector('.error-summary').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; })()"
    )
    assert in_view
    assert page.get_by_label("Your name").input_value() == "Hasty"
    # Following a summary link moves to its field.
    page.locator(".error-summary").get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "id_rating_0"
    assert_accessible_and_fits(page, "review form, with errors")


def test_photo_dropped_by_a_failed_post_is_asked_for_again(page: Any, site: Site) -> None:
    page.goto(site.url + f"/restaurant/{site.busy}/")
    jpeg = image_bytes("JPEG", size=(40, 30))
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "dish.jpg", "mimeType": "image/jpeg", "buffer": jpeg}
    )
    page.get_by_role("button", name="Post review").click()
    notice = page.locator(".field-notice")
    notice.wait_for()
    assert "choose it again" in notice.inner_text()
    assert_accessible_and_fits(page, "review form, photo to choose again")


def test_error_pages_have_no_axe_violations(page: Any, site: Site) -> None:
    # 403: the form's security token is gone (cookies cleared) when it is sent.
    page.goto(site.url + "/restaurant/new/")
    page.context.clear_cookies()
    page.get_by_label("Name").fill("Forged")
    page.get_by_label("Street address").fill("1 Nowhere")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Add restaurant").click()
    assert posted.value.status == 403
    page.wait_for_load_state()
    assert_accessible_and_fits(page, "403 page")
    # 503: the database cannot be reached.
    assert page.goto(site.down_url + "/").status == 503
    assert "Temporarily unavailable" in page.inner_text("h1")
    assert_accessible_and_fits(page, "503 page")


def test_current_page_is_marked_in_the_nav(page: Any, site: Site) -> None:
    page.goto(site.url + "/restaurant/new/")
    current = page.locator('.site-nav [aria-current="page"]')
    assert current.count() == 1 and current.inner_text() == "Add a restaurant"
    page.goto(site.url + "/")
    assert page.locator('.site-nav [aria-current="page"]').inner_text() == "Restaurants"


def test_admin_restaurant_with_many_inline_reviews_fits_the_width(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(site.url + "/admin/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(site.url + f"/admin/restaurant_review/restaurant/{site.busy}/change/")
        rows = page.locator(".inline-related tbody tr.has_original").count()
        assert rows >= 12
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # Compact read-only rows, each linking to the review's own page: no text boxes.
        assert page.locator(".inline-related textarea").count() == 0
        inline = page.locator(".inline-group").bounding_box()
        assert inline is not None and inline["height"] / rows < 110
        page.goto(site.url + "/admin/restaurant_review/review/")
        headers = page.locator("#result_list thead th").all_inner_texts()
        assert "REVIEW" in [h.strip().upper() for h in headers]
        assert "YOUR NAME" not in [h.strip().upper() for h in headers]
        assert page.locator("#result_list img").count() > 0  # photo thumbnails in rows
        # Every thumbnail and the posted date are in view, left of the filter panel.
        filters = page.locator("#changelist-filter").bounding_box()
        assert filters is not None
        for cell in page.locator("#result_list img, #result_list td.field-posted").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] + box["width"] <= filters["x"]
    finally:
        context.close()


def test_photos_and_the_admin_work_under_the_content_security_policy(
    browser: Any, site: Site
) -> None:
    """The strict CSP (the public pages keep it: the axe walk above) lets photos load and the
    admin's own scripts run: nothing blocked, nothing inline."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused = csp_refusals(page)
    try:
        page.goto(site.url + f"/restaurant/{site.busy}/")
        loaded = page.eval_on_selector_all(
            ".review-photo img, .photo-strip img",
            "els => els.filter(e => e.complete && e.naturalWidth).length",
        )
        assert loaded > 0
        page.goto(site.url + "/admin/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        for path in [
            "/admin/",
            "/admin/restaurant_review/restaurant/",
            f"/admin/restaurant_review/restaurant/{site.busy}/change/",
            "/admin/restaurant_review/review/",
            "/admin/restaurant_review/review/add/",
        ]:
            response = page.goto(site.url + path)
            assert response.status == 200, path
            page.wait_for_load_state("networkidle")
        # The admin's own scripts ran: "select all" in a list ticks every row (actions.js).
        page.goto(site.url + "/admin/restaurant_review/review/")
        page.locator("#action-toggle").check()
        assert page.locator("input.action-select:checked").count() > 0
    finally:
        context.close()
    assert refused == []


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]
)
def test_a_posted_review_is_in_view_with_its_thanks(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    """After posting, the browser lands on the new review (not the form's #review-form, nor
    the top of a long page): the review is marked, and the thanks just above it are in view.
    Its photo, chosen in the file input, shows as a WebP rendition from the site's own
    media folder (the embedded default's photo storage)."""
    context = axe_context(browser, viewport=viewport)
    page = context.new_page()
    try:
        page.goto(site.url + f"/restaurant/{site.busy}/")
        page.get_by_label("Your name").fill(f"Viewer {viewport['width']}")
        page.get_by_role("radio", name="5 stars").check()
        text = f"Landed right on it at {viewport['width']} px."
        page.get_by_role("textbox", name="Review").fill(text)
        photo = image_bytes("JPEG", size=(640, 480))
        page.get_by_label("Photo (optional)").set_input_files(
            {"name": "plate.jpg", "mimeType": "image/jpeg", "buffer": photo}
        )
        page.get_by_role("button", name="Post review").click()
        page.wait_for_load_state()
        assert re.search(r"#review-\d+$", page.url), page.url
        review = page.locator(".review:target")
        assert review.count() == 1
        assert text in review.inner_text()

        def in_view(locator: Any) -> bool:
            box = locator.bounding_box()
            return box is not None and 0 <= box["y"] and box["y"] + 40 <= viewport["height"]

        page.wait_for_function("window.scrollY > 0")
        assert in_view(review)
        assert in_view(page.get_by_text("Thank you! Your review was posted."))
        assert_accessible_and_fits(page, f"review posted, {viewport['width']} px")
        # Its photo, scrolled to, shows: a WebP rendition from the site's media folder.
        image = review.locator("img")
        image.scroll_into_view_if_needed()
        loaded = "img => img.complete && img.naturalWidth > 0"
        page.wait_for_function(loaded, arg=image.element_handle())
        source = image.evaluate("img => img.currentSrc")
        assert source.startswith(site.url + "/media/"), source
        shown = page.request.get(source)
        assert shown.status == 200 and shown.headers["content-type"] == "image/webp"
    finally:
        context.close()


def test_home_cards_covers_line_up_with_and_without_photos(page: Any, site: Site) -> None:
    """Every card's cover is the same height, a photo's as a placeholder's (a 4:3 photo had
    made its cover 199 px tall beside placeholders of 177)."""
    page.goto(site.url + "/")
    heights = page.evaluate(
        "[...document.querySelectorAll('.card-cover')].map(c => c.getBoundingClientRect().height)"
    )
    kinds = page.evaluate(
        "[...document.querySelectorAll('.card-cover')]"
        ".map(c => c.querySelector('img') ? 'photo' : 'none')"
    )
    assert {"photo", "none"} <= set(kinds), kinds  # both kinds are on the page
    assert max(heights) - min(heights) <= 1, heights


def test_a_photos_page_is_accessible_and_steps_to_the_next(page: Any, site: Site) -> None:
    """From the gallery, a photo opens on a page of the site: no axe violation, nothing wider
    than the screen, and "Next photo" leads on."""
    page.goto(site.url + "/")
    photo_link = page.locator(".restaurant-card a.card-link").first
    photo_link.click()
    page.wait_for_load_state()
    gallery = page.get_by_role("link", name=re.compile(r"See all \d+ photos?"))
    if gallery.count() == 0:  # the first restaurant has none: the busiest has some
        page.goto(f"{site.url}/restaurant/{site.busy}/")
    page.get_by_role("link", name=re.compile(r"See all \d+ photos?")).click()
    page.locator(".gallery a").first.click()
    page.locator(".photo-page").wait_for()
    assert_accessible_and_fits(page, "a photo's page")
    if page.get_by_role("link", name="Next photo").count():
        page.get_by_role("link", name="Next photo").click()
        page.locator(".photo-page").wait_for()
        assert "/photos/" in page.url


def test_on_a_phone_results_come_first_and_filters_apply_themselves(
    browser: Any, site: Site
) -> None:
    """At 390 px the filters fold under one line, so the first restaurant is on the first
    screen; opened, a chosen filter applies at once, with only what was chosen in the address.
    At 1280 px they show open; without JavaScript, Apply does it (the server drops the empty
    fields)."""
    for width, javascript in ((390, True), (1280, True), (390, False)):
        context = browser.new_context(
            viewport={"width": width, "height": 844}, java_script_enabled=javascript
        )
        page = context.new_page()
        try:
            page.goto(site.url + "/")
            cuisine = page.get_by_label("Cuisine")
            summary = page.locator(".filters-panel summary")
            if width == 390:
                assert summary.is_visible() and not cuisine.is_visible()
                top = page.locator(".restaurant-card").first.bounding_box()["y"]
                assert top < 844 * 0.6, f"the first restaurant starts at {top} px"
                summary.click()
            else:
                assert cuisine.is_visible() and not summary.is_visible()
            apply = page.get_by_role("button", name="Apply")
            assert apply.is_visible() == (not javascript)
            cuisine.select_option("french")
            if not javascript:
                apply.click()
            page.wait_for_url(re.compile(r"cuisine=french"))
            # With JavaScript, only what was chosen (not the default order); without, the
            # form's every field less the empty ones.
            expected = r"/\?cuisine=french$" if javascript else r"/\?cuisine=french&sort=name$"
            assert re.search(expected, page.url), page.url
            assert page.locator(".restaurant-card").count() > 0
            assert page.title().startswith("French restaurants")
            assert page.locator(".filters-chosen").inner_text().startswith("1")
        finally:
            context.close()


def test_the_star_rating_is_tapped_or_keyed_and_shows_what_is_chosen(page: Any, site: Site) -> None:
    """Five radio buttons drawn as stars: tapping the fourth checks "4 stars" and fills four;
    the arrow keys move the choice, as in any radio group."""
    page.goto(f"{site.url}/restaurant/{site.empty}/")
    star_color = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--star').trim()"
    )
    stars = page.locator(".star-input label")
    assert stars.count() == 5

    def filled() -> int:
        page.mouse.move(0, 0)  # no hover preview
        colors = stars.evaluate_all("labels => labels.map(l => getComputedStyle(l).color)")
        lit = page.evaluate(
            "c => { const d = document.createElement('div'); d.style.color = c; "
            "document.body.append(d); const v = getComputedStyle(d).color; d.remove(); "
            "return v; }",
            star_color,
        )
        return sum(1 for color in colors if color == lit)

    assert filled() == 0
    stars.nth(3).click()
    assert page.get_by_role("radio", name="4 stars").is_checked()
    assert filled() == 4
    page.keyboard.press("ArrowLeft")
    assert page.get_by_role("radio", name="3 stars").is_checked()
    assert filled() == 3
