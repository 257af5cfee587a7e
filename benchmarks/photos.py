"""Photo weight and cost, against the goals of the photos issue; prints figures, asserts nothing.

1. Memory: the extra peak memory (VmHWM) of storing one upload, for ordinary and worst-case
   photos, each in a fresh process; then 8 worst-case uploads at once against start.sh with
   2 workers x 4 threads, and each worker's peak memory.
2. Weight: a restaurant page with 10 reviews carrying 12-MP phone photos (posted through the
   form, as a phone would), opened in Debian's Chromium: bytes transferred on the first visit
   (scrolled to the end, so every lazy photo loads) and on a repeat visit in the same browser,
   counted with CDP (encodedDataLength), at desktop and phone sizes; on the embedded default
   and in Azure mode (PostgreSQL, Azurite over HTTPS with a private container and SAS links,
   the test identity endpoint). The browser trusts the test certificates, so its HTTP cache
   works as it does for a real site.
3. Lighthouse 13 (npm `lighthouse`, with CHROME_PATH=/usr/bin/chromium): mobile Performance of
   that page.

    python3 -m benchmarks.photos
    python3 -m benchmarks.photos --skip-azure --skip-lighthouse

Needs what ./run-tests.sh installs (PostgreSQL, Azurite, Playwright), Debian's full Chromium
(`apt-get install chromium`: the tests use only its headless shell) and
`npm install -g lighthouse@13.5.0` for part 3.
"""

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trustme
from PIL import Image, ImageFilter

from benchmarks.lighthouse import browser_args, median_report
from localazure.azurite import Azurite, find_azurite
from localazure.postgres import PostgresServer, find_bindir, make_postgres_app
from localazure.services import (
    PROJECT_DIR,
    AppServer,
    base_env,
    manage,
    post_form,
    worker_memory_mb,
)
from restaurant_review.management.commands._demo_photos import DISHES, demo_photo
from tests.helpers import full_chromium

MB = 1024 * 1024
VIEWPORTS = {
    "desktop 1280 px": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
    "phone 412 px": {
        "viewport": {"width": 412, "height": 823},
        "device_scale_factor": 1.75,
        "is_mobile": True,
        "has_touch": True,
    },
}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# Test photos


def phone_photo(seed: int, size: tuple[int, int] = (4032, 3024), quality: int = 92) -> bytes:
    """A 12-MP phone photo's weight and detail: a dish, enlarged, with sensor grain."""
    rng = random.Random(seed)
    dish = demo_photo(rng, rng.choice(list(DISHES)))
    with Image.open(io.BytesIO(dish)) as small:
        image = small.resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 28).convert("RGB").filter(ImageFilter.GaussianBlur(0.6))
    image = Image.blend(image, grain, 0.12)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def worst_cases() -> dict[str, bytes]:
    png = io.BytesIO()
    Image.linear_gradient("L").resize((4032, 3024)).convert("RGB").save(png, format="PNG")
    rgba = io.BytesIO()
    Image.linear_gradient("L").resize((4032, 3024)).convert("RGBA").save(rgba, format="PNG")
    bomb = io.BytesIO()
    Image.new("RGBA", (7000, 7000), (200, 30, 40, 255)).save(bomb, format="PNG")
    smooth = io.BytesIO()
    gradient = Image.linear_gradient("L").resize((8160, 6120)).convert("RGB")
    gradient.save(smooth, format="JPEG", quality=60)
    return {
        "12-MP phone JPEG 4032x3024": phone_photo(1),
        "50-MP JPEG 8160x6120": smooth.getvalue(),
        "12-MP RGB PNG 4032x3024": png.getvalue(),
        "12-MP RGBA PNG 4032x3024": rgba.getvalue(),
        "PNG declaring 7000x7000 RGBA": bomb.getvalue(),
    }


MEASURE = """
import io, json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "azureproject.settings")
django.setup()
from restaurant_review.forms import process_photo

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
before = peak_kb()
try:
    photo = process_photo(io.BytesIO(data), size=len(data)).photo
    outcome = f"stored {photo.width}x{photo.height}"
except Exception as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"extra_mb": (peak_kb() - before) / 1024, "outcome": outcome}))
"""


def memory_per_upload(cases: dict[str, bytes], workdir: Path) -> None:
    print("\n1. Extra peak memory to store one upload (fresh process each):")
    for name, data in cases.items():
        path = workdir / f"{uuid.uuid4().hex}.img"
        path.write_bytes(data)
        result = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)],
            cwd=PROJECT_DIR,
            env=base_env(POST_LIMITS="off", MEDIA_ROOT=str(workdir / "media")),
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        ok = figures["extra_mb"] <= 150
        print(
            f"   {name:32} {len(data) / MB:5.1f} MB file: +{figures['extra_mb']:4.0f} MB peak"
            f"  ({figures['outcome'][:60]})  goal <= 150 MB: {verdict(ok)}"
        )


# Talking to the app


def parallel_uploads(cases: dict[str, bytes], workdir: Path) -> None:
    env = base_env(
        POST_LIMITS="off",
        SQLITE_PATH=str(workdir / "parallel.sqlite3"),
        MEDIA_ROOT=str(workdir / "parallel-media"),
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    assert manage("seed_demo", "--restaurants", "1", "--reviews", "0", env=env).returncode == 0
    worst = cases["50-MP JPEG 8160x6120"]  # the most decoded pixels of the accepted cases
    with running(env, workdir / "parallel.log") as server:
        base = server.url
        statuses: list[int] = []
        fields = {"user_name": "Load", "rating": "4", "review_text": "Parallel."}

        def post() -> None:
            statuses.append(
                post_form(base, "/restaurant/1/", "/restaurant/1/review/", fields, photo=worst)[0]
            )

        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peaks = worker_memory_mb(server.process.pid, field="VmHWM")  # type: ignore[union-attr]
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    ok = all(peak < 400 for peak in peaks)
    print(
        f"\n   8 parallel uploads of the 50-MP JPEG against 2 workers "
        f"x 4 threads: statuses {counts}; worker peak memory "
        f"{', '.join(f'{p:.0f}' for p in peaks)} MB; goal < 400 MB each: {verdict(ok)}"
    )


@contextmanager
def running(
    env: dict[str, str], log: Path, tls: tuple[Path, Path] | None = None
) -> Iterator[AppServer]:
    server = AppServer(env, log, tls=tls, start_sh=True).start()
    try:
        yield server
    finally:
        server.stop()


# The browser


def page_weight(url: str, trusted: list[Path]) -> dict[str, tuple[int, int, int]]:
    """Bytes transferred (and requests made) on a first and a repeat visit, per viewport."""
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=full_chromium(), args=browser_args(trusted)
        )
        for name, options in VIEWPORTS.items():
            context = browser.new_context(**options)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            transferred = {"bytes": 0, "requests": 0}

            def finished(event: dict[str, Any], counter: dict[str, int] = transferred) -> None:
                counter["bytes"] += int(event.get("encodedDataLength", 0))
                counter["requests"] += 1

            cdp.on("Network.loadingFinished", finished)
            visits = []
            for _visit in ("first", "repeat"):
                transferred.update(bytes=0, requests=0)
                page.goto(url, wait_until="networkidle")
                for _ in range(12):  # read to the end: lazy photos load as they come near
                    page.mouse.wheel(0, 700)
                    page.wait_for_timeout(150)
                page.wait_for_load_state("networkidle")
                images = page.eval_on_selector_all(
                    ".review-photo img",
                    "els => els.filter(e => e.complete && e.naturalWidth).length",
                )
                visits.append((transferred["bytes"], transferred["requests"], images))
            results[name] = (visits[0], visits[1])
            context.close()
        browser.close()
    return results  # type: ignore[return-value]


def report_weight(mode: str, weights: dict[str, Any]) -> None:
    for viewport, (first, repeat) in weights.items():
        first_ok, repeat_ok = first[0] <= 800 * 1024, repeat[0] <= 60 * 1024
        print(
            f"   {mode:9} {viewport:16} first visit {first[0] / 1024:6.0f} KB in {first[1]:2} "
            f"requests ({first[2]} photos shown; goal <= 800 KB: {verdict(first_ok)}), "
            f"repeat {repeat[0] / 1024:5.1f} KB in {repeat[1]:2} requests "
            f"(goal <= 60 KB: {verdict(repeat_ok)})"
        )


def lighthouse(url: str, trusted: list[Path]) -> float | None:
    """The median mobile Performance score of three runs, with the median run's figures."""
    report = median_report(url, trusted=trusted, categories=["performance"])
    if report is None:
        return None
    audits = report["audits"]
    score = report["median"]["performance"]
    print(
        f"   Lighthouse {report['lighthouseVersion']} mobile Performance {score:.0f}, median of "
        f"{', '.join(f'{s:.0f}' for s in report['scores']['performance'])} "
        f"(goal >= 98: {verdict(score >= 98)}); "
        f"LCP {audits['largest-contentful-paint']['displayValue']}, "
        f"CLS {audits['cumulative-layout-shift']['displayValue']}, "
        f"TBT {audits['total-blocking-time']['displayValue']}, "
        f"transfer {audits['total-byte-weight']['numericValue'] / 1024:.0f} KB"
    )
    return score


def restaurant_with_phone_photos(base: str, photos: list[bytes]) -> str:
    page = "/restaurant/1/"
    for index, photo in enumerate(photos):
        fields = {
            "user_name": f"Diner {index + 1}",
            "rating": str(3 + index % 3),
            "review_text": "Lovely food, friendly staff. The photo says it all.",
        }
        status, _ = post_form(base, page, "/restaurant/1/review/", fields, photo=photo, timeout=120)
        assert status == 302, f"review post answered {status}"
    return base + page


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-azure", action="store_true")
    parser.add_argument("--skip-lighthouse", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rr-photos-"))
    photos = [phone_photo(seed) for seed in range(10)]
    print(
        f"Ten 12-MP phone photos (4032x3024 JPEG), {sum(map(len, photos)) / MB:.1f} MB in all, "
        f"{min(map(len, photos)) / MB:.1f}-{max(map(len, photos)) / MB:.1f} MB each."
    )
    try:
        if not args.skip_memory:
            cases = worst_cases()
            memory_per_upload(cases, workdir)
            parallel_uploads(cases, workdir)

        print("\n2. A restaurant page with 10 photo reviews, in Chromium:")
        if not args.skip_embedded:
            embedded_weight(workdir, photos, lighthouse_too=not args.skip_lighthouse)
        if not args.skip_azure:
            azure_weight(workdir, photos, lighthouse_too=not args.skip_lighthouse)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def embedded_weight(workdir: Path, photos: list[bytes], *, lighthouse_too: bool) -> None:
    env = base_env(
        POST_LIMITS="off",
        SQLITE_PATH=str(workdir / "weight.sqlite3"),
        MEDIA_ROOT=str(workdir / "media"),
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    assert manage("seed_demo", "--restaurants", "1", "--reviews", "0", env=env).returncode == 0
    with running(env, workdir / "embedded.log") as server:
        url = restaurant_with_phone_photos(server.url, photos)
        url = url.replace("127.0.0.1", "localhost")
        report_weight("embedded", page_weight(url, []))
        if lighthouse_too:
            print("\n3. Lighthouse (embedded default):")
            lighthouse(url, [])


def azure_weight(workdir: Path, photos: list[bytes], *, lighthouse_too: bool) -> None:
    bindir, azurite_bin = find_bindir(), find_azurite()
    if bindir is None or azurite_bin is None:
        print("   Azure mode skipped: PostgreSQL or Azurite missing (./run-tests.sh installs them)")
        return
    postgres = PostgresServer(bindir).start()
    azurite = Azurite(azurite_bin).start()
    app = make_postgres_app(postgres)
    try:
        container = f"photos-{uuid.uuid4().hex[:10]}"
        azurite.admin(app.endpoint).create_container(container)  # private: SAS links
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.cert_chain_pems[0].write_to_path(str(workdir / "app.crt"))
        cert.private_key_pem.write_to_path(str(workdir / "app.key"))
        env = base_env(
            POST_LIMITS="off",
            **app.env,
            WEBSITE_HOSTNAME="restaurant-review.azurewebsites.net",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            SECRET_KEY=uuid.uuid4().hex * 2,
            AZURE_STORAGEBLOB_RESOURCEENDPOINT=azurite.account_url,
            STORAGE_CONTAINER_NAME=container,
            REQUESTS_CA_BUNDLE=str(azurite.ca_file),
        )
        assert manage("migrate", "--noinput", env=env).returncode == 0
        assert manage("seed_demo", "--restaurants", "1", "--reviews", "0", env=env).returncode == 0
        tls = (workdir / "app.crt", workdir / "app.key")
        with running(env, workdir / "azure.log", tls=tls) as server:
            url = restaurant_with_phone_photos(server.url, photos)
            trusted = [workdir / "app.crt", azurite.base / "cert.pem"]
            report_weight("Azure", page_weight(url, trusted))
            if lighthouse_too:
                print("\n3. Lighthouse (Azure mode, private container):")
                lighthouse(url, trusted)
    finally:
        app.endpoint.stop()
        azurite.cleanup()
        postgres.stop()


if __name__ == "__main__":
    main()
