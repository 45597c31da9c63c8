"""Each job-folder file format has one torch-free owner that forms, tools, uploads and inference use."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from digits.model import preprocess_spec, snapshot_names
from digits.utils import atomic, image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OWNERS = ("digits.model.preprocess_spec", "digits.model.snapshot_names", "digits.model.trainer_config",
          "digits.dataset.files", "digits.utils.atomic", "digits.utils.image", "digits.model.job")


def test_one_set_of_resize_and_mean_modes():
    from digits.dataset.images.classification.forms import ImageClassificationDatasetForm
    from digits.model import preprocess, trainer_config
    from digits.model.forms import ModelForm
    from digits.pretrained_model import upload
    from digits.tools.create_db import build_parser

    assert upload.RESIZE_MODES is preprocess_spec.RESIZE_MODES is image.RESIZE_MODES
    assert upload.MEAN_MODES is preprocess.MEAN_MODES is trainer_config.MEAN_MODES is preprocess_spec.MEAN_MODES
    dataset_field = ImageClassificationDatasetForm.resize_mode
    assert [mode for mode, _ in dataset_field.kwargs["choices"]] == list(preprocess_spec.RESIZE_MODES)
    assert dataset_field.kwargs["default"] == preprocess_spec.DEFAULT_RESIZE_MODE
    assert [mode for mode, _ in ModelForm.use_mean.kwargs["choices"]] == list(preprocess_spec.MEAN_MODES)
    resize_arg = next(a for a in build_parser()._actions if a.dest == "resize_mode")
    assert resize_arg.choices is image.RESIZE_MODES and resize_arg.default == preprocess_spec.DEFAULT_RESIZE_MODE
    assert preprocess.PreprocessError is preprocess_spec.PreprocessError


def test_the_upload_check_is_the_spec_check():
    from digits.inference.errors import InferenceError
    from digits.pretrained_model import upload

    params = {"channels": 3, "height": 8, "width": 8, "resize_mode": "zoom"}
    with pytest.raises(preprocess_spec.PreprocessError, match="preprocess.json resize_mode must be one of squash"):
        preprocess_spec.check(params, lambda field: f"preprocess.json {field}")
    with pytest.raises(InferenceError, match="resize_mode must be one of squash, crop, fill, half_crop"):
        upload.check_preprocess(params, str)
    checked = upload.check_preprocess(dict(params, resize_mode="crop"), str)
    assert checked["mean"] == preprocess_spec.NO_MEAN and checked["channel_order"] == preprocess_spec.CHANNEL_ORDER


def test_preprocess_json_written_by_training_reads_back_through_the_owner(tmp_path):
    from digits.model.preprocess import Preprocess, load, write_model_files

    pre = Preprocess(1, 4, 6, 2, resize_mode="fill", crop_size=3)
    write_model_files(pre, str(tmp_path), str(tmp_path))
    text = (tmp_path / preprocess_spec.PREPROCESS_FILE).read_text()
    assert text == json.dumps(pre.to_json(), indent=2, sort_keys=True) + "\n"
    assert preprocess_spec.read(str(tmp_path)) == pre.to_json() == load(str(tmp_path)).to_json()
    assert not preprocess_spec.uses_mean(pre.to_json())


@pytest.mark.parametrize("epoch, name", [(3, "snapshot_epoch_3.pt"), (3.0, "snapshot_epoch_3.pt"),
                                         (2.5, "snapshot_epoch_2.5.pt")])
def test_snapshot_names_round_trip(epoch, name):
    from digits.model import snapshot

    assert snapshot_names.snapshot_name(epoch) == name
    assert snapshot_names.parse_epoch(name) == epoch
    assert snapshot.snapshot_name is snapshot_names.snapshot_name


def test_the_job_and_the_trainer_list_snapshots_from_the_one_owner(tmp_path):
    from digits.model import snapshot
    from digits.model.job import ModelJob

    for name in ("snapshot_epoch_1.pt", "snapshot_epoch_10.pt", "snapshot_epoch_2.5.pt", "snapshot_epoch_x.pt",
                 "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert snapshot_names.snapshot_files(str(tmp_path)) == [
        (1, "snapshot_epoch_1.pt"), (2.5, "snapshot_epoch_2.5.pt"), (10, "snapshot_epoch_10.pt")]
    job = ModelJob(str(tmp_path.parent), "m", "alice", job_id=tmp_path.name)
    assert job.snapshot_epochs() == [1, 2.5, 10]
    assert job.snapshot_path(2.5) == str(tmp_path / "snapshot_epoch_2.5.pt")
    # training resumes from whole epochs only
    assert snapshot.list_snapshots(str(tmp_path)) == [(10, str(tmp_path / "snapshot_epoch_10.pt")),
                                                      (1, str(tmp_path / "snapshot_epoch_1.pt"))]


def test_one_atomic_json_writer_keeps_both_formats(tmp_path):
    from digits.dataset.files import atomic_write_json
    from digits.job import write_json_atomic

    data = {"b": [1.5, float("nan")], "a": "é"}
    write_json_atomic(str(tmp_path / "job.json"), data)
    atomic_write_json(str(tmp_path / "dataset.json"), data)
    assert (tmp_path / "job.json").read_text() == '{"b":[1.5,null],"a":"\\u00e9"}'
    assert (tmp_path / "dataset.json").read_text() == '{\n  "a": "\\u00e9",\n  "b": [\n    1.5,\n    null\n  ]\n}\n'
    assert write_json_atomic is atomic.write_json


def test_one_layout_conversion():
    from digits.dataset.datum import array_to_datum, datum_to_array, datum_to_chw, parse_datum
    from digits.inference.images import to_chw

    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    chw = image.hwc_to_chw(rgb)
    assert chw.shape == (3, 2, 3) and (chw[0] == rgb[:, :, 0]).all()
    assert (image.hwc_to_chw(rgb, bgr=True)[0] == rgb[:, :, 2]).all()
    assert (image.chw_to_hwc(chw) == rgb).all() and image.hwc_to_chw(rgb[:, :, 0]).shape == (1, 2, 3)
    datum = parse_datum(array_to_datum(rgb, 0, "none"))
    assert (datum_to_chw(datum) == chw).all() and (datum_to_array(datum) == rgb).all()
    assert (to_chw(rgb).numpy() == chw).all()


def test_the_owners_import_without_torch():
    code = (f"import importlib, sys\nfor name in {OWNERS!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:5])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
