"""The pretrained-model upload page: a failed upload comes back in the form that failed, with the user's
values and a plain message (no trained model needed: these fail before any check of the weights)."""
import io
import re

import pytest

from tests.helpers import login

BROWSER = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}


@pytest.fixture
def user(app):
    return login(app.test_client(), "fred")


def _browser_post(client, url, data):
    """A browser's form post: with the page's CSRF token, as the browser sends it."""
    page = client.get("/pretrained_models/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(url, headers=BROWSER, data=dict(data, csrf_token=token))


def _form(page, form_id):
    found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert found, f"no form {form_id}"
    return found.group(0)


@pytest.mark.parametrize("name,data", [("junk.tar.gz", b"plain text, not an archive"),
                                       ("model.zip", b"PK\x03\x04 but nothing more"),
                                       ("weights.pt", b"\x80\x02}q\x00.")])
def test_a_file_that_is_no_archive_gets_a_plain_message(app, user, name, data):
    response = user.post("/pretrained_models/upload_archive.json", data={"archive": (io.BytesIO(data), name)})
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert message.startswith(f"archive: {name} is not a readable .zip or .tar archive"), message
    assert "method" not in message and "Error" not in message   # no tarfile internals
    assert not [j for j in app.extensions["digits"]["scheduler"].jobs.values() if j.category == "pretrained_models"]


def test_failed_files_upload_keeps_the_users_values(user):
    response = _browser_post(user, "/pretrained_models/new", {
        "job_name": "my cats", "framework": "torch", "image_type": "1", "width": "28", "height": "32",
        "resize_mode": "half_crop", "use_mean": "pixel", "scale": "0.5", "crop_size": "24"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    files = _form(page, "form-upload-files")
    assert 'id="upload-error"' in files and "no file uploaded" in files
    assert 'id="job_name" value="my cats"' in files
    for select, value in (("framework", "torch"), ("image_type", "1"), ("resize_mode", "half_crop"),
                          ("use_mean", "pixel")):
        options = re.search(rf'<select[^>]*id="{select}".*?</select>', files, re.S).group(0)
        assert re.findall(r'<option value="([^"]+)" selected>', options) == [value], (select, options)
    for field, value in (("width", "28"), ("height", "32"), ("scale", "0.5"), ("crop_size", "24")):
        assert re.search(rf'id="{field}" value="{value}"', files), field
    # the other form is left as it was
    archive = _form(page, "form-upload-archive")
    assert 'id="upload-error"' not in archive and 'id="archive_job_name" value=""' in archive


def test_failed_archive_upload_shows_the_message_in_the_archive_form(user):
    response = _browser_post(user, "/pretrained_models/upload_archive", {
        "archive": (io.BytesIO(b"not an archive"), "cats.tgz"), "job_name": "cats"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    archive = _form(page, "form-upload-archive")
    assert "cats.tgz is not a readable .zip or .tar archive" in archive
    assert 'id="archive_job_name" value="cats"' in archive
    files = _form(page, "form-upload-files")
    assert 'id="upload-error"' not in files and 'id="job_name" value=""' in files


def test_fresh_page_has_the_defaults(user):
    page = user.get("/pretrained_models/new").get_data(as_text=True)
    assert 'id="upload-error"' not in page
    assert '<option value="caffe" selected>' in page and 'id="width" value="256"' in page
