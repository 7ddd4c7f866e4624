"""imaging.labels: schemas as data, user schemas, unknown labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imaging.labels import (
    LabelSchema,
    available_schemas,
    check_labels,
    get_schema,
    infer_schema,
    region_masks,
    set_et_label,
)


def test_builtin_schemas():
    b = get_schema("brats")
    assert b.names == ["ET", "NCR", "ED", "TC", "WT"]
    assert set(b.region_labels("ET")) == {3, 4}
    assert b.region_labels("TC") == (1, 3, 4)
    assert b.region_labels("WT") == (1, 2, 3, 4)
    p = get_schema("paediatric")
    assert p.names == ["ET", "NET", "CC", "ED", "TC", "WT", "NET+CC+ED"]
    assert p.region_labels("NET+CC+ED") == (2, 3, 4)  # seed 002's composite
    assert p.composites["TC"] == ("ET", "NET", "CC")
    assert p.region_labels("TC") == (1, 2, 3)
    assert get_schema("pediatric") == p
    assert {"brats", "paediatric"} <= set(available_schemas())


def test_user_schema_json_and_yaml(tmp_path):
    spec = {"name": "two", "regions": {"A": [1], "B": {"labels": [2, 5]}}, "composites": {"ALL": ["A", "B"]}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    (tmp_path / "s.yaml").write_text(
        "name: two\nregions:\n  A: [1]\n  B: {labels: [2, 5]}\ncomposites:\n  ALL: [A, B]\n"
    )
    a = get_schema(tmp_path / "s.json")
    b = get_schema(str(tmp_path / "s.yaml"))
    assert a == b
    assert a.region_labels("ALL") == (1, 2, 5)
    assert LabelSchema.from_dict(a.to_dict()) == a


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"regions": {"A": [1], "B": [1]}}, "both"),
        ({"regions": {"A": [0]}}, "positive"),
        ({"regions": {"A": [1]}, "composites": {"T": ["A", "Z"]}}, "unknown regions"),
        ({"labels": {}}, "regions"),
    ],
)
def test_bad_schemas(spec, match):
    with pytest.raises(ValueError, match=match):
        get_schema(spec)


def test_unknown_schema_name():
    with pytest.raises(ValueError, match="built-in schemas"):
        get_schema("nope")
    with pytest.raises(FileNotFoundError):
        get_schema("missing.json")


def test_unknown_labels(caplog):
    lab = np.array([0, 1, 2, 4, 7, 9]).reshape(1, 2, 3)
    with pytest.raises(ValueError, match=r"\[7, 9\].*brats"):
        check_labels(lab, "brats")
    assert check_labels(lab, "brats", strict=False) == [7, 9]
    assert "7, 9" in caplog.text
    assert check_labels(np.array([0, 1, 2, 3]), "brats") == []


def test_brats_map_with_both_et_labels_is_refused():
    # a paediatric map (1-4) read as BraTS: ET = 3 + 4 would be wrong, so it is refused
    with pytest.raises(ValueError, match=r"peds\.nii\.gz.*\[1, 2, 3, 4\].*\[3, 4\].*--schema"):
        check_labels(np.array([0, 1, 2, 3, 4]), "brats", name="peds.nii.gz")
    with pytest.raises(ValueError, match="not allow together"):
        check_labels(np.array([0, 1, 2, 3, 4]), "brats", strict=False)
    assert check_labels(np.array([0, 1, 2, 3, 4]), "paediatric") == []
    with pytest.raises(ValueError, match=r"\[3\].*brats2021"):
        check_labels(np.array([0, 1, 3]), "brats2021")
    assert check_labels(np.array([0, 1, 2, 4]), "brats2021") == []
    assert get_schema("brats2023").region_labels("ET") == (3,)


def test_infer_schema_refuses_ambiguous_maps():
    for values, why in [([0, 1, 2, 3], "more than one schema"), ([0, 1, 2, 4], "more than one schema"),
                        ([0, 1, 2, 3, 4], "more than one schema"), ([0], "more than one"),
                        ([0, 7], "no built-in schema")]:
        with pytest.raises(ValueError, match=rf"m\.nii: label values .*{why}.*--schema"):
            infer_schema(np.array(values), name="m.nii")
    custom = LabelSchema("x", {"A": (1,)})
    assert check_labels([0, 1], custom) == []


def test_set_et_label_both_conventions():
    lab = np.array([0, 1, 2, 3, 2])
    assert set_et_label(lab, 4).tolist() == [0, 1, 2, 4, 2]
    assert set_et_label(set_et_label(lab, 4), 3).tolist() == lab.tolist()
    with pytest.raises(ValueError, match="3 \\(2023\\) or 4"):
        set_et_label(lab, 5)
    with pytest.raises(ValueError, match="BraTS schema"):
        set_et_label(lab, 4, "paediatric")


def test_region_masks():
    lab = np.array([0, 1, 2, 3, 4])
    m = region_masks(lab, "brats")
    assert m["TC"].tolist() == [False, True, False, True, True]
    assert m["WT"].sum() == 4
