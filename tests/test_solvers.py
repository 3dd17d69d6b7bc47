"""Analytic checks: a constant velocity is a known translation for every solver."""
import pytest
import torch

from img2gif import registry
from img2gif.ode import WarpODE
from img2gif.velocity.svf import SVF
from img2gif.warp import compose

SOLVERS = ["euler", "midpoint", "rk4", "dopri5", "scaling-squaring"]


def constant_velocity(dx=0.2, dy=-0.1):
    v = SVF(size=(6, 8), levels=2)
    v.set_translation(dx, dy)
    return v


@pytest.mark.parametrize("name", SOLVERS)
def test_constant_velocity_gives_translation_both_ways(name):
    ode = WarpODE(constant_velocity(), registry.load("solvers", name)())
    x0 = torch.rand(1, 3, 12, 16)
    times = torch.tensor([0.5, 1.0, -1.0, -0.25, 0.0])
    phi = ode.fields(x0, times, (12, 16))
    assert phi.shape == (5, 1, 2, 12, 16)
    for k, t in enumerate(times.tolist()):
        assert torch.allclose(phi[k, :, 0], torch.full((1, 12, 16), 0.2 * t), atol=1e-4), (name, t)
        assert torch.allclose(phi[k, :, 1], torch.full((1, 12, 16), -0.1 * t), atol=1e-4), (name, t)


@pytest.mark.parametrize("name", ["euler", "rk4", "scaling-squaring"])
def test_unordered_and_repeated_times(name):
    ode = WarpODE(constant_velocity(), registry.load("solvers", name)())
    phi = ode.fields(torch.rand(1, 1, 8, 8), [1.0, 0.5, 1.0, -0.5], (8, 8))
    assert torch.allclose(phi[0], phi[2])
    assert torch.allclose(phi[1, :, 0], torch.full((1, 8, 8), 0.1), atol=1e-4)
    assert torch.allclose(phi[3, :, 0], torch.full((1, 8, 8), -0.1), atol=1e-4)


def test_svf_backward_inverts_forward():
    torch.manual_seed(0)
    v = SVF(size=(8, 8), levels=3)
    with torch.no_grad():
        for g in v.grids:
            g.normal_(0, 0.03)
    for name in ("scaling-squaring", "rk4"):
        ode = WarpODE(v, registry.load("solvers", name)(**({"steps": 8} if name == "scaling-squaring" else {"step_size": 0.05})))
        with torch.no_grad():
            phi = ode.fields(torch.rand(1, 1, 32, 32), [1.0, -1.0], (32, 32))
            px = compose(phi[1], phi[0]).abs() * 31 / 2  # (id + phi_-1) o (id + phi_1) - id, pixels
        assert phi[0].abs().max() * 31 / 2 > 1.0  # a real deformation, over a pixel
        assert px.mean() < 0.02 and px.max() < 0.3, (name, float(px.mean()), float(px.max()))


def test_scaling_squaring_refuses_time_dependent_velocity():
    from img2gif.velocity.unet import UNetVelocity

    with pytest.raises(ValueError, match="stationary"):
        WarpODE(UNetVelocity(in_channels=1, width=4, depth=1), registry.load("solvers", "scaling-squaring")())


def test_unet_with_ode_solver_runs_and_starts_at_identity():
    from img2gif.velocity.unet import UNetVelocity

    ode = WarpODE(UNetVelocity(in_channels=3, width=4, depth=2), registry.load("solvers", "euler")(step_size=0.25))
    phi = ode.fields(torch.rand(2, 3, 10, 14), [0.5, -1.0], (10, 14))
    assert phi.shape == (2, 2, 2, 10, 14)
    assert torch.count_nonzero(phi) == 0  # zero-initialised output layer


def test_adjoint_gradients_match_direct():
    torch.manual_seed(0)
    x0 = torch.rand(1, 1, 8, 8)
    grads = []
    for adjoint in (False, True):
        v = constant_velocity(0.1, 0.05)
        ode = WarpODE(v, registry.load("solvers", "rk4")(step_size=0.25, adjoint=adjoint))
        phi = ode.fields(x0, [1.0], (8, 8))
        (phi ** 2).sum().backward()
        grads.append(v.grids[0].grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-4)


def test_bad_options_and_times():
    with pytest.raises(ValueError):
        registry.load("solvers", "euler")(step_size=0)
    with pytest.raises(ValueError):
        registry.load("solvers", "scaling-squaring")(steps=40)
    ode = WarpODE(constant_velocity(), registry.load("solvers", "euler")())
    with pytest.raises(ValueError):
        ode.fields(torch.rand(1, 1, 4, 4), [float("nan")], (4, 4))
    with pytest.raises(ValueError):
        ode.fields(torch.rand(1, 4, 4), [1.0], (4, 4))


def test_solver_config_rebuilds():
    s = registry.load("solvers", "dopri5")(rtol=1e-3)
    again = type(s)(**s.config())
    assert again.config() == s.config()


# --- compose: exact composition steps for Eulerian velocities -------------------------

class _FrameVelocity(torch.nn.Module):
    """u(frame) = a fixed field (normalised units), whatever the frame: a stand-in for unet."""

    name = "test-eulerian"
    stationary = False
    eulerian = True

    def __init__(self, u):
        super().__init__()
        self.u = torch.nn.Parameter(u)

    def frame_velocity(self, frame):
        return self.u.expand(frame.shape[0], -1, -1, -1)

    def forward(self, t, phi, x0, frame_only=False):
        from img2gif.velocity.unet import _directional_derivative

        u = self.frame_velocity(phi)
        return u if frame_only else u + _directional_derivative(phi, u)  # else: the ODE form, for euler


def test_compose_constant_velocity_is_a_translation_both_ways():
    u = torch.zeros(1, 2, 12, 16)
    u[:, 0], u[:, 1] = 0.2, -0.1
    ode = WarpODE(_FrameVelocity(u), registry.load("solvers", "compose")(step_size=0.3))
    times = torch.tensor([0.5, 1.0, -1.0, -0.25, 0.0, 1.0])
    phi = ode.fields(torch.rand(2, 3, 12, 16), times, (12, 16))
    assert phi.shape == (6, 2, 2, 12, 16)
    for k, t in enumerate(times.tolist()):
        assert torch.allclose(phi[k, :, 0], torch.full((2, 12, 16), 0.2 * t), atol=1e-5), t
        assert torch.allclose(phi[k, :, 1], torch.full((2, 12, 16), -0.1 * t), atol=1e-5), t


def _squeezing_field(h=24, w=24, strength=3.0):
    """A velocity that pulls everything towards the centre line x = 0, hard."""
    xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
    u = torch.zeros(1, 2, h, w)
    u[:, 0:1] = strength * xs * torch.exp(-4 * xs**2)
    return u


def test_compose_does_not_fold_where_euler_does():
    from img2gif.warp import count_folds

    velocity = _FrameVelocity(_squeezing_field())
    x0 = torch.rand(1, 1, 24, 24)
    euler = WarpODE(velocity, registry.load("solvers", "euler")(step_size=0.25)).fields(x0, [1.0], (24, 24))[0]
    composed = WarpODE(velocity, registry.load("solvers", "compose")(step_size=0.25)).fields(x0, [1.0], (24, 24))[0]
    assert count_folds(euler) > 0
    assert count_folds(composed) == 0


def test_compose_needs_an_eulerian_velocity():
    with pytest.raises(ValueError, match="Eulerian"):
        WarpODE(constant_velocity(), registry.load("solvers", "compose")())
    with pytest.raises(ValueError, match="step_size"):
        registry.load("solvers", "compose")(step_size=0)


def test_compose_gradcheck_float64():
    class Plain:  # holds the field as a plain tensor so gradients flow back to it
        name = "plain"
        eulerian = True

        def __init__(self, u):
            self.u = u

        def __call__(self, t, phi, x0, frame_only=False):
            from img2gif.warp import sample

            return self.u * (1 + sample(x0, phi).mean(1, keepdim=True))  # depends on the frame, as unet does

    solver = registry.load("solvers", "compose")(step_size=0.5)
    x0 = torch.rand(1, 1, 5, 6, dtype=torch.float64)
    times = torch.tensor([1.0, -0.5], dtype=torch.float64)
    u = (0.05 * torch.randn(1, 2, 5, 6, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: solver.integrate(Plain(f), x0, times, (5, 6)), (u,), eps=1e-6, atol=1e-5)


def test_unet_with_compose_runs_forward_and_backward():
    from img2gif.velocity.unet import UNetVelocity

    unet = UNetVelocity(in_channels=1, width=4, depth=1)
    torch.nn.init.normal_(unet.out.weight, std=0.01)
    ode = WarpODE(unet, registry.load("solvers", "compose")())
    x0 = torch.rand(2, 1, 16, 16)
    phi = ode.fields(x0, [0.5, 1.0, -1.0], (16, 16))
    assert phi.shape == (3, 2, 2, 16, 16) and torch.isfinite(phi).all()
    phi[1].pow(2).sum().backward()
    assert unet.out.weight.grad is not None and unet.out.weight.grad.abs().sum() > 0


def _random_svf(seed=0):
    torch.manual_seed(seed)
    v = SVF(size=(8, 8), levels=3)
    with torch.no_grad():
        for g in v.grids:
            g.normal_(0, 0.03)
    return v


def test_scaling_squaring_reads_a_halved_time_off_the_doubled_ones_chain():
    """exp(v/2) asked with exp(v) is exp(v)'s chain one squaring early; exp(v) itself is unchanged."""
    ode = WarpODE(_random_svf(), registry.load("solvers", "scaling-squaring")())
    x0 = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        both = ode.fields(x0, [1.0, 0.5, -0.5, -1.0, 0.3, 0.25], (16, 16))
        alone = {t: ode.fields(x0, [t], (16, 16))[0] for t in (1.0, -1.0, 0.3, 0.5)}
    assert torch.equal(both[0], alone[1.0]) and torch.equal(both[3], alone[-1.0]) and torch.equal(both[4], alone[0.3])
    assert torch.allclose(both[0], compose(both[1], both[1]), atol=1e-6)   # the last squaring
    assert torch.allclose(both[3], compose(both[2], both[2]), atol=1e-6)
    assert torch.allclose(both[1], compose(both[5], both[5]), atol=1e-6)   # 0.25 two squarings early
    # the same map as exp(v/2) by its own chain, to well under a pixel, but really the other route
    assert 0 < (both[1] - alone[0.5]).abs().max() * 15 / 2 < 0.05


def test_scaling_squaring_gradcheck_through_shared_chain():
    class FixedVelocity(torch.nn.Module):
        name, stationary = "fixed", True

        def __init__(self, grid):
            super().__init__()
            self.grid = grid

        def field(self, x0):
            return self.grid

    solver = registry.load("solvers", "scaling-squaring")(steps=3)
    x0 = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    grid = (0.05 * torch.randn(1, 2, 3, 3, dtype=torch.float64)).requires_grad_(True)
    times = torch.tensor([0.5, 1.0, -1.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda w: solver.integrate(FixedVelocity(w), x0, times, (4, 4)), (grid,),
                                    eps=1e-6, atol=1e-5)
