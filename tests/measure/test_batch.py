"""The batch a run measures is decided once (onnxprof.measure.batch): from --batch, an --input's leading
dim, --dim of the batch symbol, an .npz's arrays or the model itself; two that disagree are one line."""

from __future__ import annotations

import numpy as np
import pytest

from onnxprof.cli.options import parse_batch, parse_batches
from onnxprof.errors import UsageError
from onnxprof.measure.batch import choose_batches, npz_shapes, throughput_unit

IMAGES = {"images": ("N", 3, 224, 224)}
TWO = {"ids": ("N", "S"), "mask": ("N", "S")}


def test_nothing_sets_the_batch_so_it_is_the_default_or_the_sweep():
    assert choose_batches(IMAGES).batches == (1,)
    assert choose_batches(IMAGES, default=None).batches == ()
    assert choose_batches(IMAGES, [1, 2, 4]).batches == (1, 2, 4)


@pytest.mark.parametrize("kwargs, set_by", [
    ({"inputs": {"images": (8, 3, 224, 224)}}, "--input images:8x3x224x224"),
    ({"dims": {"N": 8}}, "--dim N=8"),
    ({"arrays": {"images": (8, 3, 224, 224), "labels": (5,)}, "arrays_from": "d.npz"}, "--inputs d.npz"),
])
def test_each_flag_sets_the_batch(kwargs, set_by):
    choice = choose_batches(IMAGES, **kwargs)
    assert choice.batches == (8,) and choice.set_by.startswith(set_by)
    assert choice.binding(8).batch == 8
    assert choose_batches(IMAGES, [8], **kwargs).batches == (8,)      # saying it twice, the same, is fine


def test_the_arrays_bind_whole_shapes_and_other_arrays_are_ignored():
    choice = choose_batches(TWO, arrays={"ids": (2, 16), "mask": (2, 16), "extra": (9,)}, arrays_from="x.npz")
    assert choice.batches == (2,) and dict(choice.inputs) == {"ids": (2, 16), "mask": (2, 16)}


@pytest.mark.parametrize("kwargs, message", [
    ({"batches": [2], "inputs": {"images": (8, 3, 224, 224)}},
     "--batch 2 contradicts --input images:8x3x224x224, which sets batch 8"),
    ({"batches": [1, 8], "inputs": {"images": (8, 3, 224, 224)}}, "--batch 1,8 contradicts --input"),
    ({"batches": [2], "dims": {"N": 8}}, "--batch 2 contradicts --dim N=8"),
    ({"batches": [2], "arrays": {"images": (1, 3, 224, 224)}, "arrays_from": "one.npz"},
     "--batch 2 contradicts --inputs one.npz (array images: 1x3x224x224), which sets batch 1"),
    ({"dims": {"N": 4}, "inputs": {"images": (8, 3, 224, 224)}}, "the batch is set twice: 8 by --input"),
    ({"inputs": {"images": (8, 3, 224, 224)}, "arrays": {"images": (2, 3, 224, 224)}, "arrays_from": "a.npz"},
     "contradicts --inputs a.npz"),
    ({"arrays": {"images": (2, 3)}, "arrays_from": "a.npz"}, "rank 2, but the model's input images has rank 4"),
])
def test_flags_that_disagree_are_one_line(kwargs, message):
    with pytest.raises(UsageError, match=None) as raised:
        choose_batches(IMAGES, **kwargs)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_two_inputs_bound_to_different_batches_disagree():
    with pytest.raises(UsageError, match="the batch is set twice: 2 by --input ids:2x16 and 4 by --input mask:4x16"):
        choose_batches(TWO, inputs={"ids": (2, 16), "mask": (4, 16)})


def test_a_model_with_a_fixed_batch_runs_that_batch_and_refuses_another():
    fixed = {"x": (4, 64)}
    assert choose_batches(fixed).batches == (4,)
    with pytest.raises(UsageError, match="--batch 1,2 contradicts the model .its input x is 4x64"):
        choose_batches(fixed, [1, 2], batch_text="1,2")


def test_npz_shapes_are_read_from_the_headers(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 64), np.float32), y=np.zeros((), np.int64))
    assert npz_shapes(path) == {"x": (3, 64), "y": ()}
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(UsageError, match="not a readable .npz"):
        npz_shapes(tmp_path / "bad.npz")


def test_throughput_counts_images_only_for_image_inputs():
    assert throughput_unit([("N", 3, 224, 224)]) == "images/s"
    assert throughput_unit([(1, 224, 224, 3)]) == "images/s"
    assert throughput_unit([("N", 128), ("N", 128)]) == "samples/s"        # a BERT's ids and mask
    assert throughput_unit([("N", 64)]) == "samples/s"


@pytest.mark.parametrize("text", ["1,,2", "", ",1", "1,", "0", "1,-2", "a", "1.5", "2,2", "1;2"])
def test_batch_lists_are_parsed_strictly(text):
    with pytest.raises(UsageError, match="--batch"):
        parse_batches(text)


def test_batch_lists_and_single_sizes():
    assert parse_batches("1,2,4,8") == [1, 2, 4, 8] and parse_batches(" 1, 8 ") == [1, 8]
    assert parse_batch("8") == 8 and parse_batch(None) is None
    with pytest.raises(UsageError, match="expected one positive size"):
        parse_batch("1,2")
