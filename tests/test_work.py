"""The work a file's warp may ask for: estimated per velocity and solver, bounded on load."""
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from img2gif import checkpoint, work
from img2gif.cli import app
from img2gif.errors import InputError
from img2gif.learned import LearnedModel, load_model
from img2gif.ode import WarpODE, warp_record
from img2gif.velocity.unet import UNetVelocity

from conftest import blob_image


def measured_macs(net: UNetVelocity, h: int, w: int) -> int:
    """Multiply-adds of the convolutions in one frame_velocity call, counted by forward hooks."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        total += output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net.frame_velocity(torch.rand(1, net.config()["in_channels"], h, w))
    for hook in hooks:
        hook.remove()
    return total


@pytest.mark.parametrize("channels, width, depth", [(1, 16, 2), (7, 16, 3), (3, 8, 1)])
def test_unet_cost_per_pixel_matches_its_convolutions(channels, width, depth):
    net = UNetVelocity(channels, width, depth)
    macs = measured_macs(net, 64, 64)
    assert net.cost_per_pixel() * 64 * 64 == pytest.approx(macs, rel=0.03)


def test_solver_evaluations():
    def ode(solver, config):
        return WarpODE.from_record(warp_record("unet", solver, {"in_channels": 1, "width": 4, "depth": 1}, config))

    assert work.solver_evaluations(ode("compose", {"step_size": 0.25}).solver) == 4
    assert work.solver_evaluations(ode("rk4", {"step_size": 0.1}).solver) == 40
    assert work.solver_evaluations(ode("euler", {"step_size": 0.001}).solver) == 1000


def test_shipped_models_ask_for_under_a_percent_of_the_limit():
    for name in ("smile", "digits"):
        model = load_model(name, "cpu")
        assert work.estimate(model.ode, (model.size, model.size)) < 0.01 * work.MAX_WORK


def _save_model(path, size, step_size, kind="img2gif.model", velocity="unet", width=16, depth=3):
    config = {"in_channels": 1, "width": width, "depth": depth} if velocity == "unet" else \
        {"image_channels": 3, "width": width, "depth": depth}
    ode = WarpODE.from_record(warp_record(velocity, "compose", config, {"step_size": step_size}))
    checkpoint.save(path, {**ode.record(), "state_dict": ode.velocity.state_dict(), "image_size": size, "channels": 1},
                    kind)
    return path


def test_a_model_within_every_size_limit_but_hours_of_work_is_refused(tmp_path):
    """1024-px model, 1000 compose steps: each field within its limit, ~4e16 multiply-adds together."""
    heavy = _save_model(tmp_path / "heavy.pt", 1024, 1e-3)
    with pytest.raises(InputError, match=r"heavy\.pt: its warp asks for about .* over the limit"):
        LearnedModel.load(heavy)
    light = _save_model(tmp_path / "light.pt", 64, 0.25)
    assert LearnedModel.load(light).size == 64


def test_a_heavy_prior_is_one_line_at_the_cli(tmp_path):
    prior = _save_model(tmp_path / "prior.pt", 1024, 1e-3, kind="img2gif.prior", velocity="pair-unet")
    a, b, out = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "out.gif"
    Image.fromarray(blob_image(48, 64)).save(a)
    Image.fromarray(blob_image(48, 64, shift=(2.0, 0.0))).save(b)
    result = CliRunner().invoke(app, ["animate", str(a), str(b), "--prior", str(prior), "-o", str(out), "--frames", "4"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "prior.pt" in lines[0] and "over the limit" in lines[0], result.output
    assert not out.exists()


class _Wild(torch.nn.Module):
    """A velocity that swings 2000 times per unit of time: no tolerance can be met cheaply."""

    name, stationary, calls = "wild", False, 0

    def forward(self, t, phi, x0):
        _Wild.calls += 1
        return torch.ones_like(phi) * 50 * torch.sin(2000 * t)


def test_an_adaptive_solver_stops_at_its_bound_of_work():
    from img2gif.errors import WorkLimitError
    from img2gif.solvers.torchdiffeq_solvers import Dopri5

    solver = Dopri5(step_size=0.1, rtol=1e-7, atol=1e-7)
    bound = solver.evaluations_per_unit_time()
    _Wild.calls = 0
    with pytest.raises(WorkLimitError, match="velocity evaluations"):
        solver.integrate(_Wild(), torch.zeros(1, 1, 8, 8), [0.5, 1.0], (8, 8))
    assert _Wild.calls <= bound + 2 * solver.stages + 1
    # a smooth velocity at the same settings is integrated as before
    smooth = Dopri5(step_size=0.1)
    phi = smooth.integrate(lambda t, p, x: torch.full_like(p, 0.1), torch.zeros(1, 1, 8, 8), [1.0], (8, 8))
    assert torch.allclose(phi, torch.full_like(phi, 0.1), atol=1e-5)
