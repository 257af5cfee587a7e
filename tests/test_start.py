"""start.sh, the README's run command and App Service's startup command, on a fresh database."""

from http import HTTPStatus
from pathlib import Path

from tests.services import app_server, base_env, http_get


def test_start_sh_migrates_and_serves_the_home_page(tmp_path: Path) -> None:
    env = base_env(SQLITE_PATH=str(tmp_path / "fresh.sqlite3"), MEDIA_ROOT=str(tmp_path / "media"))
    with app_server(env, tmp_path / "server.log") as server:
        status, body = http_get(server.url + "/")
        assert status == HTTPStatus.OK
        assert b"No restaurants yet" in body
        css_status, css = http_get(server.url + "/static/css/site.css")
        assert css_status == HTTPStatus.OK and b"Restaurant Review" in css
        assert http_get(server.url + "/restaurant/1/")[0] == HTTPStatus.NOT_FOUND
    assert (tmp_path / "fresh.sqlite3").exists()
    assert "Applying restaurant_review.0001_initial" in server.log()
