"""The MBG/NBD model (modified beta-geometric / negative binomial distribution).

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. *International Journal of Research in Marketing* 24(3),
201–209. (Also Hoppe & Wagner 2007, "Customer base analysis: the case for a central variant of
the Betageometric/NBD model".)

As BG/NBD, but a member may also drop out right after the first purchase, so a one-time buyer is
not certainly alive. The likelihood of ``(x, t_x, T)``::

    L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + B(a+1, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

The code is BG/NBD's (:mod:`memberlens.models.bg_nbd`) with the modification switched on.
"""

from __future__ import annotations

from memberlens.models._limits import NoDropout, SameDropoutModified
from memberlens.models.bg_nbd import BetaGeoModel


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: BG/NBD whose members can drop out at time 0 too (Batislam et al. 2007).

    Parameters, attributes and methods are those of :class:`BetaGeoModel`; P(alive) of a
    one-time buyer is ``b / (a + b)`` at ``T = 0`` rather than 1.

    Examples
    --------
    >>> ModifiedBetaGeoModel().fit(summary).params_  # doctest: +SKIP
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    """

    model_name = "mbg-nbd"
    title = "MBG/NBD"
    paper = "Batislam, Denizel & Filiztekin (2007), Int. J. of Research in Marketing 24(3)"
    fit_hint = "MBG/NBD needs repeat buyers and members of different ages"
    _modified = True
    limit_models = (NoDropout, SameDropoutModified)


__all__ = ["ModifiedBetaGeoModel"]
