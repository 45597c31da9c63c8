"""A real server on a loopback port and Debian's Chromium driven by Playwright."""
import os
import shutil

import pytest

from tests.data import write_digits_folder
from tests.helpers import ROOT, Server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "e2e")


@pytest.fixture(scope="module")
def e2e_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    root = tmp_path_factory.mktemp("e2e")
    images = write_digits_folder(str(root / "digits"), per_class=40)
    server = Server(str(root / "jobs"), root).start()
    server.images = images
    server.root = root
    yield server
    server.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield instance
        instance.close()


class Page:
    """A browser page that records console errors and saves numbered screenshots."""

    def __init__(self, page, name):
        self.page, self.name, self.shots, self.errors = page, name, 0, []
        self.watch(page)
        shutil.rmtree(os.path.join(ARTIFACTS, name), ignore_errors=True)
        os.makedirs(os.path.join(ARTIFACTS, name), exist_ok=True)

    def watch(self, page):
        """Records console errors of this page (also of tabs the flow opens)."""
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, label):
        self.shot_of(self.page, label)

    def shot_of(self, page, label):
        self.shots += 1
        page.screenshot(path=os.path.join(ARTIFACTS, self.name, f"{self.shots:02d}-{label}.png"), full_page=True)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    wrapped = Page(context.new_page(), request.node.name)
    yield wrapped
    context.close()
    assert not wrapped.errors, f"browser console errors: {wrapped.errors}"
