"""Motion estimators: where a fit starts (entry-point group ``img2gif.estimators``).

A gradient fit of a smooth warp finds motion of a few pixels at its coarsest level; an
estimator says where to start it. It is a class built with keyword arguments (JSON-able,
``FitSettings.estimator_config``) whose instances have

``propose(a, b, *, start=None, still=None) -> Tensor (K, 2, h, w)``

* ``a``, ``b``: (1, C, H, W) images in [0, 1] at the fit's working size;
* ``start``: None or (1, 2, h', w'), the field proposed so far (a global shift, a model's
  warp), normalised units; an estimator refines it or ignores it;
* ``still``: None or (1, 1, H0, W0), 1 on still overlays (captions, logos) that should not
  vote for the motion (``img2gif.still.fit_weight`` makes a weight of it at any size);
* returns K >= 1 displacement fields, best first, normalised units (-1 ... 1 spans the frame),
  with ``b(p) ~ a(p + phi(p))``, at any size (the fit interpolates). A 1x1 field is one
  displacement for the whole frame: a translation.

Built-ins: ``shift`` (an exhaustive search over whole-frame shifts on a small copy) and
``blocks`` (coarse-to-fine block matching per pixel). The fit runs ``shift`` then ``blocks``
(``--match``); ``--estimator NAME`` runs NAME instead. ``base.check_proposal`` is what the fit
checks a proposal with; a third-party estimator can use it in its own tests.
"""
from .base import Estimator, check_proposal, is_translation

__all__ = ["Estimator", "check_proposal", "is_translation"]
