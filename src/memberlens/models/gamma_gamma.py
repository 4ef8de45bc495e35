"""The Gamma-Gamma model of spend per transaction.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. *Journal of Marketing Research* 42(4), 415–430; and Fader & Hardie
(2013), "The Gamma-Gamma Model of Monetary Value".

A member's spends are ``Gamma(p, ν)`` around their mean ``p/ν``, with ``ν ~ Gamma(q, γ)`` across
members. For ``x`` repeat purchases with mean spend ``z̄`` the likelihood is::

    f(z̄ | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q z̄^(px-1) x^(px) / (γ + x z̄)^(px+q)

and the expected spend per transaction is ``(p (γ + x z̄)) / (px + q - 1)``, a weighted mean of
the population mean ``pγ/(q-1)`` and the member's own mean. The model assumes a member's spend is
independent of how often they buy: :attr:`GammaGammaModel.frequency_spend_correlation_` reports
how far the data are from that.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from memberlens.errors import InputError
from memberlens.models._base import BaseModel, dot, limit_aware
from memberlens.models._limits import SameSpendRate
from memberlens.models._summary import WEIGHT, compress_summary

CORRELATION_WARNING = 0.3


@dataclass(frozen=True)
class _Data:
    """The members' (frequency, mean spend, weight), and what the likelihood needs of them that
    does not change with the parameters: per distinct frequency, its members; over all members,
    the weighted sums of ln z̄, x ln z̄ and x ln x. Only ``ln(γ + x z̄)`` is left per member."""

    x: np.ndarray
    m: np.ndarray
    w: np.ndarray
    x_values: np.ndarray
    weight_x: np.ndarray
    xm: np.ndarray  # x z̄
    wx: np.ndarray  # w x
    sum_w: float
    sum_log_m: float  # Σ w ln z̄
    sum_x_log_m: float  # Σ w x ln z̄
    sum_x_log_x: float  # Σ w x ln x

    @classmethod
    def from_arrays(cls, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _Data:
        x_code, x_values = pd.factorize(x, sort=True)
        weight_x = np.bincount(x_code, w, len(x_values))
        x_values = np.asarray(x_values, dtype=float)
        log_m = np.log(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_log_x = np.where(x_values > 0, x_values * np.log(x_values), 0.0)
        return cls(
            x,
            m,
            w,
            x_values,
            weight_x,
            x * m,
            w * x,
            float(w.sum()),
            dot(w, log_m),
            dot(w * x, log_m),
            dot(weight_x, x_log_x),
        )


class GammaGammaModel(BaseModel):
    """Gamma-Gamma spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

    Fitted on repeat buyers only (``frequency > 0``) and positive mean repeat spend
    (``monetary_value``); anything else is refused with a message saying how many members and
    what to do.

    Parameters
    ----------
    time_unit, penalizer, max_iter
        As for :class:`BetaGeoModel` (the time unit is only carried along).

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.
    frequency_spend_correlation_ : float
        Pearson correlation of frequency and mean spend among the fitted members; the model
        assumes it is 0 (a warning is issued when its absolute value exceeds 0.3).

    Examples
    --------
    >>> repeat = summary.filter(summary.frequency > 0)
    >>> GammaGammaModel().fit(repeat).params_  # doctest: +SKIP
    {'p': 6.25, 'q': 3.74, 'gamma': 15.44}
    """

    param_names = ("p", "q", "gamma")
    model_name = "gamma-gamma"
    title = "Gamma-Gamma"
    paper = "Fader, Hardie & Lee (2005), RFM and CLV, Journal of Marketing Research 42(4)"
    columns = ("frequency", "monetary_value")
    fit_hint = "the spends may be too uniform or too few repeat buyers"
    limit_models = (SameSpendRate,)  # no heterogeneity in spend: q and gamma grow together
    boundaries = frozenset({("q", "infinity"), ("gamma", "infinity")})

    def _compress(self, summary: ir.Table | pd.DataFrame) -> pd.DataFrame:
        return compress_summary(summary, self.columns)

    def _check_frame(self, frame: pd.DataFrame) -> None:
        x = frame["frequency"].to_numpy(dtype=float)
        m = frame["monetary_value"].to_numpy(dtype=float)
        w = frame[WEIGHT].to_numpy(dtype=float)
        one_time = x <= 0
        if one_time.any():
            raise InputError(
                f"GammaGammaModel: {int(w[one_time].sum())} of {int(w.sum())} members are one-time buyers "
                "(frequency 0), whose repeat spend is unknown",
                "fit on repeat buyers only: summary.filter(summary.frequency > 0) "
                "(predictions for one-time buyers use the population mean spend)",
            )
        bad = ~np.isfinite(m) | (m <= 0)
        if bad.any():
            raise InputError(
                f"GammaGammaModel: {int(w[bad].sum())} repeat buyer(s) have a mean repeat spend <= 0 or missing "
                f"(e.g. {m[bad][0]!r}); Gamma-Gamma needs positive spend",
                "keep positive amounts (ingest with --positive-amount) or filter summary.monetary_value > 0",
            )
        if w.sum() < 2:
            raise InputError("GammaGammaModel: needs at least two repeat buyers", "use a longer calibration period")

    def _prepare(self, frame: pd.DataFrame) -> _Data:
        return _Data.from_arrays(
            frame["frequency"].to_numpy(dtype=float),
            frame["monetary_value"].to_numpy(dtype=float),
            frame[WEIGHT].to_numpy(dtype=float),
        )

    def _initial(self, data: _Data) -> np.ndarray:
        mean = float(data.w @ data.m) / float(data.w.sum())
        return np.array([1.0, 2.0, mean])

    def _loglik(self, theta: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
        """``Σ w [ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln z̄ + px ln x - (px+q) ln(γ+xz̄)]``
        and its gradient: the log-gamma terms once per distinct frequency, the z̄ and x terms
        from the sums in ``data``; only ``ln(γ + x z̄)`` and its derivative per member."""
        p, q, g = (float(v) for v in theta)
        d = data
        px = p * d.x_values
        ll_x = dot(d.weight_x, gammaln(px + q) - gammaln(px)) - d.sum_w * gammaln(q)
        log_xm = np.log(g + d.xm)
        sum_log_xm, sum_x_log_xm = dot(d.w, log_xm), dot(d.wx, log_xm)
        ll = (
            ll_x
            + q * np.log(g) * d.sum_w
            + p * d.sum_x_log_m
            - d.sum_log_m
            + p * d.sum_x_log_x
            - p * sum_x_log_xm
            - q * sum_log_xm
        )
        psi = digamma(px + q)
        d_p = dot(d.weight_x * d.x_values, psi - digamma(px)) + d.sum_x_log_m + d.sum_x_log_x - sum_x_log_xm
        d_q = dot(d.weight_x, psi) - d.sum_w * digamma(q) + d.sum_w * np.log(g) - sum_log_xm
        inverse = 1.0 / (g + d.xm)
        d_g = q * d.sum_w / g - p * dot(d.wx, inverse) - q * dot(d.w, inverse)
        return float(ll), np.array([d_p, d_q, d_g])

    def fit(self, summary: ir.Table | pd.DataFrame) -> GammaGammaModel:
        """Fit on the repeat buyers' ``(frequency, monetary_value)``; see :meth:`BaseModel.fit`."""
        frame = self._compress(summary)
        self.fit_distinct(frame)
        x = frame["frequency"].to_numpy(dtype=float)
        m = frame["monetary_value"].to_numpy(dtype=float)
        w = frame[WEIGHT].to_numpy(dtype=float)
        self.frequency_spend_correlation_ = _weighted_correlation(x, m, w)
        if abs(self.frequency_spend_correlation_) > CORRELATION_WARNING:
            warnings.warn(
                f"GammaGammaModel assumes spend is independent of frequency, but their correlation "
                f"is {self.frequency_spend_correlation_:.2f} in these data",
                UserWarning,
                stacklevel=2,
            )
        return self

    @limit_aware
    def expected_spend(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """Expected spend of the member's next purchase (Fader, Hardie & Lee 2005, eq. 5).

        For a one-time buyer (``frequency`` 0) this is the population mean ``pγ/(q-1)``.
        """
        params = self._check_fitted()
        p, q, g = params["p"], params["q"], params["gamma"]
        x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
        m = np.where(x > 0, m, 0.0)
        if q <= 1:
            warnings.warn(
                f"GammaGammaModel: q={q:.3g} <= 1, so the population mean spend is infinite; "
                "expected spends of members with few purchases are unreliable",
                RuntimeWarning,
                stacklevel=2,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            return p * (g + x * m) / (p * x + q - 1.0)

    @limit_aware
    def expected_spend_expression(self, summary: ir.Table) -> ir.FloatingValue:
        """:meth:`expected_spend` as an Ibis expression over ``summary``'s columns (runs in the engine)."""
        params = self._check_fitted()
        p, q, g = params["p"], params["q"], params["gamma"]
        x = summary.frequency.cast("float64")
        m = ibis.ifelse(summary.frequency > 0, summary.monetary_value.cast("float64"), 0.0)
        return (p * (g + x * m)) / (p * x + (q - 1.0))

    def predict(self, summary: ir.Table | pd.DataFrame, **options: Any) -> ir.Table | pd.DataFrame:
        """One row per member with ``expected_spend`` (computed in the engine for an Ibis table)."""
        self._check_fitted()
        if isinstance(summary, pd.DataFrame):
            return summary.assign(expected_spend=self.expected_spend(summary["frequency"], summary["monetary_value"]))
        return summary.mutate(expected_spend=self.expected_spend_expression(summary))


def _weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 2:
        return 0.0
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    sx, sy = np.sqrt(np.average((x - mx) ** 2, weights=w)), np.sqrt(np.average((y - my) ** 2, weights=w))
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else 0.0


__all__ = ["GammaGammaModel"]
