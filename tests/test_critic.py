"""The WGAN-GP critic and its gradient penalty: shapes, the penalty's value, gradients."""
from __future__ import annotations

import pytest
import torch

from img2gif.critic import Critic, gradient_penalty


@pytest.mark.parametrize("channels,size", [(1, 8), (3, 32), (4, 64)])
def test_scores_one_number_per_image(channels, size):
    critic = Critic(channels, 8, size)
    x = torch.rand(5, channels, size, size)
    assert critic(x).shape == (5,)
    assert Critic(**critic.config()).config() == critic.config()  # rebuilds from its config


class Linear(torch.nn.Module):
    """D(x) = <w, x>: its gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly."""

    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


def test_penalty_value_for_a_known_gradient():
    real, fake = torch.rand(4, 1, 3, 3), torch.rand(4, 1, 3, 3)
    for norm in (0.5, 1.0, 3.0):
        w = torch.full((1, 1, 3, 3), norm / 3.0)  # |w| = norm
        assert gradient_penalty(Linear(w), real, fake).item() == pytest.approx((norm - 1) ** 2, abs=1e-5)


def test_penalty_has_gradients_for_the_critic():
    critic = Critic(1, 8, 8)
    real, fake = torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    gradient_penalty(critic, real, fake).backward()
    weights = [p.grad for name, p in critic.named_parameters() if name.endswith("weight")]
    # every weight shapes dD/dx (the last bias does not: it gets no gradient from the penalty)
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in weights)


def test_gradcheck_of_the_penalty_in_double():
    torch.manual_seed(0)
    critic = Critic(1, 4, 8).double()
    real = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    fake = torch.rand(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)

    def penalty(f):
        torch.manual_seed(1)  # the same mixing weights every call
        return gradient_penalty(critic, real, f)

    assert torch.autograd.gradcheck(penalty, (fake,), eps=1e-6, atol=1e-4)
