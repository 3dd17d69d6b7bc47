"""Adam for the pair fit, without ``torch.optim``.

Why: building the first ``torch.optim`` optimiser in a process imports ``torch._dynamo``
(about a second on this project's CPU machine), and every ``img2gif animate`` of a pair is a
fresh process whose fit takes about a second itself. This is the update of
``torch.optim.Adam``'s single-tensor path (no weight decay, no amsgrad), op for op, so a fit
gives the same numbers either way (tests/test_optim.py compares them).
"""
from __future__ import annotations

import torch


class Adam:
    """Adam over ``params`` (tensors with ``requires_grad``): ``zero_grad()``, ``step()``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params]
        if not all(isinstance(p, torch.Tensor) and p.requires_grad for p in self.params):
            raise ValueError("Adam needs tensors that require grad")
        if not lr > 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or not eps >= 0:
            raise ValueError(f"Adam: lr must be > 0, betas in [0, 1), eps >= 0; got {lr}, {betas}, {eps}")
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self._steps = [0] * len(self.params)  # per tensor, as torch counts: only steps it had a gradient in
        self._avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for k, (p, avg, avg_sq) in enumerate(zip(self.params, self._avg, self._avg_sq)):
            if p.grad is None:
                continue
            self._steps[k] += 1
            step_size = self.lr / (1 - beta1 ** self._steps[k])
            correction2_sqrt = (1 - beta2 ** self._steps[k]) ** 0.5
            grad = p.grad
            avg.lerp_(grad, 1 - beta1)
            avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (avg_sq.sqrt() / correction2_sqrt).add_(self.eps)
            p.addcdiv_(avg, denom, value=-step_size)
