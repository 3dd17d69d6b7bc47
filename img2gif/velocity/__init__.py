"""Built-in velocity networks: what dPhi/dt is (see ``svf`` and ``unet``).

A velocity is a ``torch.nn.Module`` with

* ``name`` (str) and ``stationary`` (bool: True when it ignores t and Phi);
* ``forward(t, phi, x0) -> dphi_dt``: t a scalar tensor, phi (B, 2, H, W), x0 (B, C, H', W');
* ``config() -> dict``: JSON-able keyword arguments that rebuild it as ``cls(**config)``;
* stationary ones also ``field(x0) -> v`` (1 or B, 2, h, w), the velocity grid itself.

Either way each step composes the map with a near-identity diffeomorphism
(``svf``: v(id + phi), on the left; ``unet``: the current frame's velocity, on the
right), so the flow cannot fold while steps are small.
"""
