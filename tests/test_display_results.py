"""The capacity results show in a notebook as the other results do: a short repr whose first line
is the verdict, and an HTML repr leading with it; the numbers are checked against hand-computed
values (the USL's peak from its closed form, Erlang C from the textbook sum)."""

from __future__ import annotations

import math

import pytest

import perfkit
from perfkit.analysis.capacity import USLFit


def _short(obj, max_lines: int = 8, max_chars: int = 600) -> tuple[str, str]:
    text, page = repr(obj), obj._repr_html_()
    assert len(text.splitlines()) <= max_lines and len(text.encode()) <= max_chars, text
    assert len(page.encode()) <= 3 * max_chars
    kind = type(obj).__name__
    assert text.startswith(f"<{kind}: ")
    assert page.startswith(f'<div class="perfkit-repr"><p><strong>{kind}: ')  # verdict first
    return text, page


def test_usl_repr_leads_with_the_planted_peak():
    sigma, kappa, lam = 0.05, 0.0005, 100.0
    loads = [1, 2, 4, 8, 16, 32, 64]
    fit = perfkit.fit_usl(loads, [lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
                                  for n in loads])  # fmt: skip
    text, page = _short(fit)
    n_star = math.sqrt((1 - sigma) / kappa)  # 43.6 users, by the closed form
    x_star = lam * n_star / (1 + sigma * (n_star - 1) + kappa * n_star * (n_star - 1))
    verdict = f"peak {x_star:.4g} at N = {n_star:.3g}"
    assert verdict == "peak 1074 at N = 43.6"  # the hand computation itself, spelled out
    assert text.splitlines()[0] == f"<USLFit: {verdict}>"
    assert page.startswith(f'<div class="perfkit-repr"><p><strong>USLFit: {verdict}</strong>')
    assert f"sigma (contention): {sigma:.4g} ± " in text
    assert f"kappa (coherency): {kappa:.3g} ± " in text
    assert f"fit: {len(loads)} points" in text and f"{len(loads) - 3} degrees of freedom" in text


def test_usl_repr_without_coherency_states_the_limit():
    fit = USLFit(0.2, 0.0, 40.0, 0.01, 0.0, 1.0, 0.5, 5, 8)
    text, _ = _short(fit)
    assert (
        text.splitlines()[0]
        == f"<USLFit: no peak (kappa 0): throughput levels off at {40 / 0.2:.4g}>"
    )
    linear = USLFit(0.0, 0.0, 40.0, 0.0, 0.0, 1.0, 0.5, 5, 8)
    assert "grows linearly" in repr(linear).splitlines()[0]


def _erlang_c_by_hand(rate: float, service: float, c: int) -> tuple[float, float]:
    """P(wait) and mean wait of M/M/c by the textbook sum (not perfkit's recursion)."""
    a = rate * service
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait * service / (c - a)


@pytest.mark.parametrize(("rate", "service", "c"), [(1.0, 0.5, 2), (30.0, 0.1, 4), (90, 0.05, 6)])
def test_erlang_c_repr_leads_with_who_waits(rate, service, c):
    queue = perfkit.erlang_c(rate, service, c)
    text, page = _short(queue)
    p_wait, wait = _erlang_c_by_hand(rate, service, c)
    verdict = (f"P(wait) {p_wait:.3g} at utilisation {rate * service / c:.1%}: mean wait "
               f"{wait:.4g}, mean response {wait + service:.4g}")  # fmt: skip
    assert text.splitlines()[0] == f"<ErlangC: {verdict}>"
    assert f"<strong>ErlangC: {verdict}</strong>" in page
    assert f"servers: {c}" in text


def test_erlang_c_hand_values_are_the_textbook_ones():
    # the control: 2 servers at a = 0.5 Erlang wait with probability 1/10 (by hand: 1/6 / 5/3)
    assert _erlang_c_by_hand(1.0, 0.5, 2) == pytest.approx((0.1, 0.1 * 0.5 / 1.5))
    assert repr(perfkit.erlang_c(1.0, 0.5, 2)).startswith(
        "<ErlangC: P(wait) 0.1 at utilisation 25.0%"
    )


def test_result_reprs_escape_hostile_text():
    """Every string in an HTML repr is escaped: a name planted in a profile, a change point's
    label, and the shared helper the capacity results use."""
    import pandas as pd

    from perfkit._display import html_repr

    hostile = "<script>alert(1)</script>"
    page = html_repr("USLFit", hostile, [(hostile, hostile)])
    assert "<script>" not in page and page.count("&lt;script&gt;") == 3
    series = pd.Series([0.0] * 20 + [9.0] * 20, index=[f"{hostile}{i}" for i in range(40)])
    found = perfkit.change_points(series, model="mean")
    assert found.points == [f"{hostile}20"]
    text, page = repr(found), found._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;20" in page
    assert text.splitlines()[0] == f"<ChangePoints: 1 change at {hostile}20>"
