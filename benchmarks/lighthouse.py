"""Lighthouse 13 on the pages people meet first, against the design goals (99 in each):
Performance, Accessibility, Best Practices and SEO, on a phone (Lighthouse's mobile
emulation) and on a desktop (its desktop preset), each the median of three runs, on the embedded
default seeded with demo data and photos. Prints figures, asserts nothing. With --screenshots
it also refreshes the README's screenshots (docs/screenshots/).

    .venv/bin/python -m benchmarks.lighthouse
    .venv/bin/python -m benchmarks.lighthouse --screenshots

Needs npm (it installs Lighthouse LIGHTHOUSE_VERSION into .ci/cache/lighthouse when it is
not on PATH) and Debian's full Chromium (`apt-get install chromium`; ./run-tests.sh installs
only the headless shell the tests drive).
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image

from localazure.services import PROJECT_DIR, AppServer, base_env, manage, shell_output
from tests.helpers import CHROMIUM_ARGS, full_chromium

CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
LIGHTHOUSE_VERSION = "13.5.0"
# Where Lighthouse is installed when it is not on PATH (next to the tests' caches, its own
# folder: an npm install there would prune axe-core from the tests' one).
NPM_PREFIX = PROJECT_DIR / ".ci" / "cache" / "lighthouse"
NPM_BIN = NPM_PREFIX / "node_modules" / ".bin"


def lighthouse_executable() -> str | None:
    """Lighthouse on PATH, else in NPM_PREFIX, installed there with npm the first time."""
    found = shutil.which("lighthouse") or shutil.which("lighthouse", path=str(NPM_BIN))
    if found or shutil.which("npm") is None:
        return found
    print(f"   Installing Lighthouse {LIGHTHOUSE_VERSION} (npm) into {NPM_PREFIX}")
    subprocess.run(
        ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-save", "--silent", "--no-audit",
         "--no-fund", f"lighthouse@{LIGHTHOUSE_VERSION}"],
        check=False,
    )  # fmt: skip
    return shutil.which("lighthouse", path=str(NPM_BIN))


def spki_hash(pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def browser_args(trusted: list[Path]) -> list[str]:
    """Chromium's flags; certificates whose keys are listed count as valid (no certificate
    error, so the HTTP cache works), which is what trusting the test CA would give."""
    args = list(CHROMIUM_ARGS)
    if trusted:
        args.append("--ignore-certificate-errors-spki-list=" + ",".join(map(spki_hash, trusted)))
    return args


GOAL = 99
FORM_FACTORS = ("mobile", "desktop")


def run_once(
    executable: str, url: str, flags: str, categories: list[str], form_factor: str = "mobile"
) -> dict[str, Any] | None:
    preset = ["--preset=desktop"] if form_factor == "desktop" else []
    for _attempt in range(3):  # Lighthouse itself asks to be run again after a failed trace
        result = subprocess.run(
            [
                executable,
                url,
                *preset,
                "--quiet",
                # The 404 page is audited too: it is a page people meet.
                "--ignore-status-code",
                f"--only-categories={','.join(categories)}",
                "--output=json",
                "--output-path=stdout",
                f"--chrome-flags={flags}",
            ],
            env={**os.environ, "CHROME_PATH": full_chromium()},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode == 0:
            return json.loads(result.stdout)
    print(f"   Lighthouse failed on {url}: {result.stderr.strip()[-500:]}")
    return None


def median_report(
    url: str,
    *,
    trusted: list[Path] | None = None,
    categories: list[str],
    runs: int = 3,
    form_factor: str = "mobile",
) -> dict[str, Any] | None:
    """The report of the run with the median Performance score (or first category's), with
    every run's `scores` and the `median` score of each category added (Lighthouse's advice
    for a noisy machine)."""
    executable = lighthouse_executable()
    if executable is None:
        print(f"   Lighthouse not found and npm could not install it into {NPM_PREFIX}")
        return None
    flags = " ".join(["--headless=new", *browser_args(trusted or [])])
    reports = [
        r
        for r in (run_once(executable, url, flags, categories, form_factor) for _ in range(runs))
        if r
    ]
    if not reports:
        return None
    scores = {
        category: [r["categories"][category]["score"] * 100 for r in reports]
        for category in categories
    }
    reports.sort(key=lambda r: r["categories"][categories[0]]["score"])
    report = reports[len(reports) // 2]
    report["scores"] = scores
    report["median"] = {category: statistics.median(values) for category, values in scores.items()}
    return report


def screenshots(base: str, busy: int) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [
        ("home.png", "/", 1280, 900),
        ("restaurant.png", f"/restaurant/{busy}/", 1280, 900),
        ("restaurant-phone.png", f"/restaurant/{busy}/", 390, 844),
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=full_chromium(), args=CHROMIUM_ARGS)
        for name, path, width, height in shots:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(base + path, wait_until="networkidle")
            raw = page.screenshot()
            context.close()
            # A palette PNG: a fraction of the size, for the repository.
            with Image.open(BytesIO(raw)) as image:
                image.convert("RGB").quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(
                    SCREENSHOTS / name, optimize=True
                )
            print(f"   {SCREENSHOTS / name}: {(SCREENSHOTS / name).stat().st_size / 1024:.0f} KB")
        browser.close()


def print_scores(base: str, pages: dict[str, str], form_factor: str) -> None:
    print(f"{'page':32}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for name, path in pages.items():
        report = median_report(base + path, categories=CATEGORIES, form_factor=form_factor)
        if report is None:
            continue
        cells = "".join(
            f"{report['median'][c]:>12.0f} {'ok' if report['median'][c] >= GOAL else '!!':>3}"
            for c in CATEGORIES
        )
        print(f"{name:32}{cells}")
        failing = [
            audit["title"]
            for audit in report["audits"].values()
            if audit.get("scoreDisplayMode") == "binary" and audit.get("score") == 0
        ]
        if failing:
            print(f"{'':32}failed audits: {'; '.join(failing[:6])}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--screenshots", action="store_true", help="refresh docs/screenshots/")
    parser.add_argument(
        "--form-factor",
        dest="form_factors",
        action="append",
        choices=FORM_FACTORS,
        help="mobile or desktop (default: both)",
    )
    args = parser.parse_args()
    args.form_factors = args.form_factors or list(FORM_FACTORS)
    workdir = Path(tempfile.mkdtemp(prefix="rr-lighthouse-"))
    env = base_env(
        POST_LIMITS="off",
        SQLITE_PATH=str(workdir / "db.sqlite3"),
        MEDIA_ROOT=str(workdir / "media"),
    )
    try:
        assert manage("migrate", "--noinput", env=env).returncode == 0
        seeded = manage(
            "seed_demo", "--restaurants", "40", "--reviews", "400", "--photos", "80", env=env
        )
        assert seeded.returncode == 0, seeded.stderr
        busy = shell_output(
            "from django.db.models import Count, Q; from restaurant_review.models import "
            "Restaurant; print(Restaurant.objects.annotate(n=Count('reviews', "
            "filter=Q(reviews__photo_width__isnull=False))).order_by('-n')[0].pk)",
            env=env,
        )
        server = AppServer(env, workdir / "server.log", start_sh=True).start()
        try:
            base = server.url.replace("127.0.0.1", "localhost")
            photo = shell_output(
                "from restaurant_review.models import Review; print(Review.objects.filter("
                f"restaurant_id={busy}).exclude(photo='').order_by('-created_at')[0].pk)",
                env=env,
            )
            pages = {
                "home": "/",
                "search, filtered and sorted": "/?q=a&price=2&rating=3&sort=rating",
                "restaurant with photo reviews": f"/restaurant/{busy}/",
                "its reviews by stars": f"/restaurant/{busy}/?stars=4&order=lowest",
                "its photo gallery": f"/restaurant/{busy}/photos/",
                "a photo's page": f"/restaurant/{busy}/photos/{photo}/",
                "add a restaurant": "/restaurant/new/",
                "404 page": "/no-such-page/",
            }
            for form_factor in args.form_factors:
                print(
                    f"\nLighthouse, {form_factor}, median of 3 runs "
                    f"(goal: >= {GOAL} in each category)\n"
                )
                print_scores(base, pages, form_factor)
            if args.screenshots:
                print("\nScreenshots:")
                screenshots(base, int(busy))
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
