"""Built-in losses: pure functions of their inputs.

Data losses take ``(pred, target)``, both (B, C, H, W), and return a scalar.
Penalties take ``phi``, (B, 2, H, W) or (T, B, 2, H, W) (one per solver time), and
return a scalar (summed over times).
"""
