"""The `cnn` learner's declared contract, checked without torch: parameters, capabilities, lazy imports."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from core.learners import make_learner
from core.learners.cnn import CNNLearner
from core.params import ParamError, check_params, defaults, invalid_values
from core.types import DataInfo

INFO = DataInfo(4, (16, 16, 3), 1 / 255, tuple("abcd"))


@pytest.mark.parametrize("name", sorted(CNNLearner.parameters))
def test_every_invalid_value_of_a_setting_is_a_param_error_naming_it(name):
    bad_values = invalid_values(CNNLearner.parameters[name])
    assert bad_values
    for value in bad_values:
        with pytest.raises(ParamError) as caught:
            make_learner("cnn", INFO, **{name: value})
        assert caught.value.option == f"learner_params.{name}", value
        assert str(caught.value).startswith(f"learner_params.{name} must be "), value
        assert str(caught.value).endswith(f"got {value!r}"), value


def test_defaults_are_valid_and_params_are_json_that_rebuilds_the_learner():
    learner = make_learner("cnn", INFO, channels=[8, 16, 16])
    assert learner.channels == (8, 16, 16)
    params = learner.params()
    assert params == {**defaults(CNNLearner.parameters), "channels": "8,16,16"}
    again = make_learner("cnn", INFO, **json.loads(json.dumps(params)))
    assert again.params() == params


def test_probability_samples_are_provided_only_with_two_passes_or_more():
    def provided(**params):
        return CNNLearner.provided(check_params(CNNLearner.parameters, params, owner="cnn"))

    assert provided() == provided(mc_samples=1) == {"proba", "features"}
    assert provided(mc_samples=2) == provided(mc_samples=50) == {"proba", "features", "proba_samples"}
    assert CNNLearner.stateful and not CNNLearner.semi_supervised and CNNLearner.blas_threads is None


def test_cross_setting_checks_name_their_option():
    with pytest.raises(ParamError, match=r"need about [\d.]+ GiB; the cnn allows at most [\d.]+ GiB here") as caught:
        make_learner("cnn", DataInfo(10, (8, 8, 1), 1.0, tuple("0123456789")), channels="4096,8,8",
                     eval_batch_size=65536)
    assert caught.value.option == "learner_params.channels"
    with pytest.raises(ParamError, match="at least 8x8") as caught:
        make_learner("cnn", DataInfo(2, (6, 8, 1), 1.0, ("a", "b")))
    assert caught.value.option == "learner"


def test_the_torch_side_takes_every_setting_explicitly():
    pytest.importorskip("torch")
    from core.learners.cnn_torch import CNNSettings

    fields = {f.name for f in dataclasses.fields(CNNSettings)}
    assert fields == {"info", "seed", *CNNLearner.parameters}


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_naming_and_checking_the_cnn_imports_no_torch():
    assert _run("import sys; from core.learners import learner_provides, make_learner; from core.types import DataInfo; "
                "make_learner('cnn', DataInfo(10, (8, 8, 1), 1.0, tuple('0123456789')), mc_samples=3); "
                "learner_provides('cnn', {'mc_samples': 3}); print('torch' in sys.modules)") == "False"


def test_the_torch_side_does_not_import_the_learner_module():
    pytest.importorskip("torch")
    assert _run("import sys, core.learners.cnn_torch; print('core.learners.cnn' in sys.modules)") == "False"
