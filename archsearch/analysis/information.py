"""Gaussian log-likelihood, AIC and BIC of a least-squares fit, comparable with other tools.

A least-squares fit with n points, residual sum of squares RSS and k mean parameters is the
maximum-likelihood fit of a Gaussian model with σ² = RSS / n, whose log-likelihood is

    ln L = −n/2 · (ln 2π + ln(RSS / n) + 1)

and AIC = −2 ln L + 2k, BIC = −2 ln L + k ln n. The constant is kept (dropping it, as
n·ln(RSS/n) + 2k does, gives numbers no other tool prints). k counts the parameters of the mean
function only, as statsmodels' OLS `.aic`/`.bic` do (tested against them); R's `AIC(lm)` also
counts σ² and so reads 2 higher (BIC: ln n higher) for every model, which leaves every
comparison between models unchanged.
"""

from __future__ import annotations

import math

MIN_RSS = 1e-300  # an exact fit (RSS = 0) would have an infinite likelihood; floor it so numbers stay finite


def gaussian_loglik(rss: float, n: int) -> float:
    """Maximised Gaussian log-likelihood of a least-squares fit with residual sum of squares `rss` over `n` points."""
    if n < 1:
        raise ValueError(f"gaussian_loglik: expected n >= 1 points, got {n}")
    return -0.5 * n * (math.log(2 * math.pi) + math.log(max(rss, MIN_RSS) / n) + 1.0)


def aic(rss: float, n: int, k: int) -> float:
    """Akaike information criterion with the full Gaussian likelihood (lower is better)."""
    return -2.0 * gaussian_loglik(rss, n) + 2.0 * k


def bic(rss: float, n: int, k: int) -> float:
    """Bayesian (Schwarz) information criterion with the full Gaussian likelihood (lower is better)."""
    return -2.0 * gaussian_loglik(rss, n) + k * math.log(n)
