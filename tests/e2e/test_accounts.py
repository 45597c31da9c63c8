"""Password mode in a real browser: the login form refuses a wrong password, pages need a login, the
user page makes an API token that then works for a script."""
import os

import pytest
import requests

from digits.users import UserStore
from tests.e2e.conftest import CHROMIUM
from tests.helpers import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    root = tmp_path_factory.mktemp("accounts")
    jobs = str(root / "jobs")
    os.makedirs(jobs)
    UserStore(jobs).add("ada", "ada's password")
    server = Server(jobs, root, env={"DIGITS_AUTH": "password"}).start()
    yield server
    server.kill()


def test_login_with_password_and_make_a_token(locked_server, page):
    p, url = page.page, locked_server.url
    p.set_default_timeout(30000)
    assert requests.get(f"{url}/index.json", timeout=10).status_code == 401
    p.goto(f"{url}/")
    assert "/login" in p.url                      # nothing to see before logging in
    p.fill("#username", "ada")
    p.fill("#password", "not her password")
    p.click("#login-submit")
    p.wait_for_selector("#login-error")
    assert p.inner_text("#login-error") == "wrong user name or password"
    assert p.input_value("#username") == "ada"
    page.shot("wrong-password")
    page.errors.remove("Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)")  # that page
    p.fill("#password", "ada's password")
    p.click("#login-submit")
    p.wait_for_selector("#current-user")
    assert p.inner_text("#current-user") == "ada"
    p.click("#current-user")
    p.wait_for_selector("#no-tokens")
    p.fill("input[name=name]", "laptop script")
    p.click("#create-token")
    p.wait_for_selector("#new-token-value")
    page.shot("token-made")
    token = p.inner_text("#new-token-value").strip()
    who = requests.get(f"{url}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert who["username"] == "ada"
    assert requests.get(f"{url}/index.json", headers={"Authorization": f"Bearer {token}"}, timeout=10).ok
    p.click("#token-table button")                 # delete it
    p.wait_for_selector("#no-tokens")
    assert requests.get(f"{url}/index.json", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401
