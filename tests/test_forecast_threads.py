"""Learned forecasts run on one intra-op thread and give the user's torch thread count back."""

import threading

import numpy as np
import pytest
import torch

from lc_hpo.curve import Curve
from lc_hpo.learned.threads import single_threaded
from lc_hpo.predictors import make_predictor


@pytest.fixture
def user_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # the user's own setting, whatever the machine has
    yield 3
    torch.set_num_threads(before)


def _curve() -> Curve:
    return Curve(steps=np.arange(1, 11), values=np.linspace(0.2, 0.6, 10), mode="max", max_step=50)


def test_the_default_forecasts_on_one_thread_and_restores_the_users_count(user_threads):
    predictor = make_predictor("default")
    seen = []
    hook = predictor.model_.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        forecast = predictor.predict([_curve()])
    finally:
        hook.remove()
    assert seen == [1]
    assert np.isfinite(forecast.mean[:, -1]).all()
    assert torch.get_num_threads() == user_threads


def test_a_failing_forecast_restores_the_count_too(user_threads):
    with pytest.raises(RuntimeError, match="boom"), single_threaded():
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == user_threads


def test_overlapping_forecasts_in_two_threads_leave_the_users_count(user_threads):
    inside, release, counts = threading.Event(), threading.Event(), []

    def slow_forecast():
        with single_threaded():
            inside.set()
            release.wait(10)
            counts.append(torch.get_num_threads())

    t = threading.Thread(target=slow_forecast)
    t.start()
    inside.wait(10)
    with single_threaded():  # a second forecast enters and leaves while the first is running
        counts.append(torch.get_num_threads())
    release.set()
    t.join(10)
    assert counts == [1, 1]
    assert torch.get_num_threads() == user_threads
    with single_threaded(), single_threaded():  # nested: the outer one restores
        pass
    assert torch.get_num_threads() == user_threads


def test_a_count_the_user_sets_during_a_forecast_is_kept(user_threads):
    with single_threaded():
        torch.set_num_threads(2)
    assert torch.get_num_threads() == 2
