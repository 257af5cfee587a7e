"""What an operator does after day one: rotating SECRET_KEY without signing anyone out."""

from http import HTTPStatus
from pathlib import Path

from localazure.services import app_server, base_env, manage, migrated_sqlite, signed_in_staff

OLD_KEY = "old-key-" + "o" * 50
NEW_KEY = "new-key-" + "n" * 50


def test_staff_signed_in_before_a_key_rotation_stay_signed_in_with_the_old_key_as_fallback(
    tmp_path: Path,
) -> None:
    database = migrated_sqlite(tmp_path / "db.sqlite3")
    env = base_env(SQLITE_PATH=str(database), MEDIA_ROOT=str(tmp_path / "media"))
    done = manage(
        "createsuperuser", "--noinput", "--username=staff", "--email=staff@example.org",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": "Rotate-me-2026!"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with app_server({**env, "SECRET_KEY": OLD_KEY}, tmp_path / "before.log") as server:
        staff = signed_in_staff(server.url, "staff", "Rotate-me-2026!")
    session = dict(staff.cookies)

    def admin_status(**keys: str) -> tuple[int, str]:
        with app_server({**env, **keys}, tmp_path / "after.log") as server:
            answer = staff.get(server.url + "/admin/", allow_redirects=False, timeout=30)
            staff.cookies.clear()
            staff.cookies.update(session)
            return answer.status_code, answer.headers.get("Location", "")

    # Restarted with the new key and the old one as fallback: still signed in.
    assert admin_status(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=f"{OLD_KEY}") == (
        HTTPStatus.OK,
        "",
    )
    # Without the fallback the session is no longer recognised: back to the login page.
    status, location = admin_status(SECRET_KEY=NEW_KEY)
    assert status == HTTPStatus.FOUND and location.startswith("/admin/login/")
