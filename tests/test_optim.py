"""The fit's Adam: the same updates as torch.optim.Adam, step for step."""
import pytest
import torch

from img2gif.optim import Adam


def _run(make_optimiser, steps=25, skip_second_every=3):
    torch.manual_seed(0)
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(5, requires_grad=True)
    with torch.no_grad():
        a0, b0 = a.clone(), b.clone()
    opt = make_optimiser([a, b])
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = (a.sin() * 3).pow(2).sum() + (0 if k % skip_second_every == 0 else (b - 1).abs().sum())
        loss.backward()
        opt.step()
    return a.detach(), b.detach(), a0, b0


def test_matches_torch_adam_exactly_including_tensors_without_grad():
    ours = _run(lambda p: Adam(p, lr=0.01))
    theirs = _run(lambda p: torch.optim.Adam(p, lr=0.01))
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    assert not torch.equal(ours[0], ours[2]) and not torch.equal(ours[1], ours[3])  # it really moved


def test_fit_is_the_same_as_with_torch_adam(monkeypatch):
    """A whole pair fit gives the same field with either optimiser."""
    import numpy as np

    from img2gif import fit as fit_module
    from img2gif.fit import FitSettings
    from img2gif.pair import fit_pair

    from conftest import blob_image

    a, b = blob_image(32, 32), blob_image(32, 32, shift=(3, 1))
    settings = FitSettings(working_size=32, steps=(6, 5, 4))
    ours = fit_pair(a, b, settings, device="cpu").fields([1.0])
    monkeypatch.setattr(fit_module, "Adam", torch.optim.Adam)
    theirs = fit_pair(a, b, settings, device="cpu").fields([1.0])
    assert torch.equal(ours, theirs) and float(np.abs(ours.numpy()).max()) > 0


@pytest.mark.parametrize("kwargs", [{"lr": 0}, {"lr": 0.1, "betas": (1.0, 0.9)}, {"lr": 0.1, "eps": -1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Adam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_tensors_must_require_grad():
    with pytest.raises(ValueError, match="require grad"):
        Adam([torch.zeros(2)])
