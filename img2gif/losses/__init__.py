"""Built-in losses: pure functions of their inputs.

Data losses (entry-point group ``img2gif.losses``) take ``(pred, target)``, both
(B, C, H, W), and return a scalar. Penalties (group ``img2gif.penalties``) take ``phi``, (B, 2, H, W) or (T, B, 2, H, W) (one per solver time), and
return a scalar (summed over times).
"""
