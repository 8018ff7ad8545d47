"""The trade-offs page keeps its policy search between script runs
(dashboard.data.tradeoffs.policy_search): one search per (what it reads, weights), on the
dashboard fixture database."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.data import tradeoffs as TD
from pipelines.serve.sandbox import connect
from pipelines.whatif import engine as E
from pipelines.whatif import search as S
from pipelines.whatif.policy import Scope, Weights
from tests.fixtures.dashboard.build import build

MARCH = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


@pytest.fixture(scope="module")
def query(tmp_path_factory):
    con = connect(build(tmp_path_factory.mktemp("search_cache") / "serve.duckdb"))
    yield E.duckdb_query(con)
    con.close()


@pytest.fixture
def searches(monkeypatch):
    """The searches that really ran."""
    ran = []
    real = S.search

    def counted(inputs, weights):
        ran.append((inputs.scope, weights))
        return real(inputs, weights)

    monkeypatch.setattr(S, "search", counted)
    TD._search.clear()
    yield ran
    TD._search.clear()


def test_one_search_per_inputs_and_weights(query, searches):
    inputs = E.load_inputs(query, MARCH)
    first = TD.policy_search(inputs, Weights())
    # the same data read again (another script run): the kept result, no search
    again = TD.policy_search(E.load_inputs(query, MARCH), Weights())
    assert again is first
    assert len(searches) == 1
    # other weights, another scope: searched again
    TD.policy_search(inputs, Weights(message=0.5))
    first_half = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 15))
    TD.policy_search(E.load_inputs(query, first_half), Weights())
    assert [s for s, _ in searches] == [MARCH, MARCH, first_half]
    assert [w for _, w in searches] == [Weights(), Weights(message=0.5), Weights()]


def test_kept_result_equals_a_fresh_search(query, searches):
    inputs = E.load_inputs(query, MARCH)
    kept = TD.policy_search(inputs, Weights())
    fresh = S.search(E.load_inputs(query, MARCH), Weights())
    assert kept.best.policy == fresh.best.policy
    assert kept.best.value == fresh.best.value
    assert [c.policy for c in kept.ranking] == [c.policy for c in fresh.ranking]
    assert [c.policy for c in kept.frontier] == [c.policy for c in fresh.frontier]
    assert kept.sensitivity == fresh.sensitivity


def test_other_data_is_another_key(query):
    a = E.load_inputs(query, MARCH)
    b = E.load_inputs(query, MARCH)
    assert TD._fingerprint(a) == TD._fingerprint(b)
    b.tables.filters[0, 0, 0] += 1  # one more message in scope
    assert TD._fingerprint(a) != TD._fingerprint(b)
    c = E.load_inputs(query, MARCH)
    c.opt_outs += 1
    assert TD._fingerprint(a) != TD._fingerprint(c)
