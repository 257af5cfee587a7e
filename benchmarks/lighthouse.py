"""Lighthouse 13 on the pages people meet first, against the design goals: Performance,
Accessibility, Best Practices and SEO, mobile, each the median of three runs, on the embedded
default seeded with demo data and photos. Prints figures, asserts nothing. With --screenshots
it also refreshes the README's screenshots (docs/screenshots/).

    .venv/bin/python benchmarks/lighthouse.py
    .venv/bin/python benchmarks/lighthouse.py --screenshots

Needs Lighthouse (./run-tests.sh installs it into .ci/cache/node; or `npm install -g
lighthouse@13.5.0`) and Debian's Chromium (CHROME_PATH=/usr/bin/chromium).
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from PIL import Image  # noqa: E402

from tests.helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.services import AppServer, base_env, manage, shell_output  # noqa: E402

CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
# Where ./run-tests.sh installs Lighthouse (with axe-core), when it is not on PATH.
NPM_BIN = PROJECT_DIR / ".ci" / "cache" / "node" / "node_modules" / ".bin"


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


def run_once(executable: str, url: str, flags: str, categories: list[str]) -> dict[str, Any] | None:
    for _attempt in range(3):  # Lighthouse itself asks to be run again after a failed trace
        result = subprocess.run(
            [
                executable,
                url,
                "--quiet",
                # The 404 page is audited too: it is a page people meet.
                "--ignore-status-code",
                f"--only-categories={','.join(categories)}",
                "--output=json",
                "--output-path=stdout",
                f"--chrome-flags={flags}",
            ],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode == 0:
            return json.loads(result.stdout)
    print(f"   Lighthouse failed on {url}: {result.stderr.strip()[-500:]}")
    return None


def median_report(
    url: str, *, trusted: list[Path] | None = None, categories: list[str], runs: int = 3
) -> dict[str, Any] | None:
    """The report of the run with the median Performance score (or first category's), with
    every run's `scores` and the `median` score of each category added (Lighthouse's advice
    for a noisy machine)."""
    executable = shutil.which("lighthouse") or shutil.which("lighthouse", path=str(NPM_BIN))
    if executable is None:
        print("   Lighthouse not found: npm install -g lighthouse@13.5.0")
        return None
    flags = " ".join(["--headless=new", *browser_args(trusted or [])])
    reports = [r for r in (run_once(executable, url, flags, categories) for _ in range(runs)) if r]
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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--screenshots", action="store_true", help="refresh docs/screenshots/")
    args = parser.parse_args()
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
        server = AppServer(env, workdir / "server.log").start()
        try:
            base = server.url.replace("127.0.0.1", "localhost")
            pages = {
                "home": "/",
                "search, filtered and sorted": "/?q=a&price=2&rating=3&sort=rating",
                "restaurant with photo reviews": f"/restaurant/{busy}/",
                "its reviews by stars": f"/restaurant/{busy}/?stars=4&order=lowest",
                "its photo gallery": f"/restaurant/{busy}/photos/",
                "add a restaurant": "/restaurant/new/",
                "404 page": "/no-such-page/",
            }
            print("Lighthouse, mobile, median of 3 runs (goal: >= 98 in each category)\n")
            print(f"{'page':32}" + "".join(f"{c:>16}" for c in CATEGORIES))
            for name, path in pages.items():
                report = median_report(base + path, categories=CATEGORIES)
                if report is None:
                    continue
                cells = "".join(
                    f"{report['median'][c]:>12.0f} {'ok' if report['median'][c] >= 98 else '!!':>3}"
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
            if args.screenshots:
                print("\nScreenshots:")
                screenshots(base, int(busy))
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
