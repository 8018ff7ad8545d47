"""Estimates as linear forms over a few measured quantities, so every interval is exact to
the delta method (for a linear form the delta method is the exact variance).

A measured quantity is an arm's outcome rate (binomial: variance p(1-p)/n, with p taken as
(x+1)/(n+2) so that an arm with no event still has a spread), or a count of complaints or
opt-outs (Poisson: variance count + 1, for the same reason). Quantities are independent of each
other (different arms, different complaints). An expected change is `const + sum(coef * q)`;
its variance is `sum(coef^2 * var(q))`; the 95 % interval is +-1.96 standard deviations. The
difference of two policies is again a linear form over the same quantities, which is how the
ranking tells whether two policies can be told apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Quantity:
    estimate: float
    variance: float
    label: str = ""


def binomial(x: float, n: float, label: str = "") -> Quantity:
    if n <= 0:
        return Quantity(0.0, 0.0, label)
    p_var = (x + 1) / (n + 2)
    return Quantity(x / n, p_var * (1 - p_var) / n, label)


def poisson(count: float, label: str = "") -> Quantity:
    return Quantity(float(count), float(count) + 1.0, label)


@dataclass(slots=True)
class Lin:
    """const + sum(coef[q] * q): an expected change over measured quantities."""

    const: float = 0.0
    coef: dict[str, float] = field(default_factory=dict)

    def add(self, other: Lin, scale: float = 1.0) -> Lin:
        self.const += scale * other.const
        for k, v in other.coef.items():
            self.coef[k] = self.coef.get(k, 0.0) + scale * v
        return self

    def term(self, key: str, c: float) -> Lin:
        if c:
            self.coef[key] = self.coef.get(key, 0.0) + c
        return self

    def scaled(self, s: float) -> Lin:
        return Lin(self.const * s, {k: v * s for k, v in self.coef.items()})

    def value(self, q: dict[str, Quantity]) -> float:
        return self.const + sum(c * q[k].estimate for k, c in self.coef.items())

    def sd(self, q: dict[str, Quantity]) -> float:
        return math.sqrt(sum(c * c * q[k].variance for k, c in self.coef.items()))

    def interval(self, q: dict[str, Quantity]) -> dict[str, float]:
        v, s = self.value(q), self.sd(q)
        return {"change": v, "ci_low": v - Z95 * s, "ci_high": v + Z95 * s}


def total(forms: Iterable[Lin]) -> Lin:
    out = Lin()
    for f in forms:
        out.add(f)
    return out


def interpolation(levels: list[float], x: float) -> dict[float, float]:
    """Weights of f(x) on the sorted `levels` for f piecewise linear through them, flat beyond
    the first and the last: f(x) = sum(w[l] * f(l))."""
    if not levels:
        raise ValueError("no levels")
    if x <= levels[0]:
        return {levels[0]: 1.0}
    if x >= levels[-1]:
        return {levels[-1]: 1.0}
    for lo, hi in zip(levels, levels[1:], strict=False):
        if lo <= x <= hi:
            t = (x - lo) / (hi - lo)
            return {lo: 1.0 - t, hi: t} if t not in (0.0, 1.0) else {lo if t == 0 else hi: 1.0}
    raise AssertionError("unreachable")
