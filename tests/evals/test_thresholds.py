"""Thresholds: parsing, checking, and the committed file."""
import pytest

from evals import thresholds as th

REPORT = {
    "suites": {
        "retrieval": {"modes": {"hybrid": {"recall@5": 0.9, "mrr@10": 0.7}, "bm25": {"recall@5": 0.6}},
                      "errors": {"graph": "RuntimeError: boom"}},
        "routing": {"metrics": {"leaks": 1.0, "sensitive_recall": 0.97}},
    }
}


def test_when_bounds_parsed_then_bare_numbers_are_minimums_and_dicts_explicit():
    bounds = th.parse_thresholds({"retrieval": {"modes": {"hybrid": {"recall@5": 0.8}}},
                                  "routing": {"metrics": {"leaks": {"max": 0}}}})
    assert bounds == [th.Bound("retrieval", "hybrid", "recall@5", "min", 0.8),
                      th.Bound("routing", None, "leaks", "max", 0.0)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "expected a mapping"),
        ({"retrieval": {"hybrid": {"recall@5": 0.8}}}, "must map 'modes'"),
        ({"routing": {"metrics": {"leaks": {"below": 0}}}}, "expected a number"),
        ({"routing": {"metrics": {"leaks": True}}}, "expected a number"),
        ({"retrieval": {"modes": {"hybrid": 0.8}}}, "must map metric"),
    ],
)
def test_when_thresholds_malformed_then_error_says_where(data, message):
    with pytest.raises(th.ThresholdError, match=message):
        th.parse_thresholds(data)


@pytest.mark.parametrize(
    ("bounds", "missed"),
    [
        ({"retrieval": {"modes": {"hybrid": {"recall@5": 0.85, "mrr@10": 0.7}}}}, []),  # equal passes
        ({"retrieval": {"modes": {"hybrid": {"recall@5": 0.95}}}}, ["retrieval/hybrid/recall@5"]),
        ({"retrieval": {"modes": {"graph": {"recall@5": 0.1}}}}, ["retrieval/graph/recall@5"]),  # not measured
        ({"routing": {"metrics": {"leaks": {"max": 0}}}}, ["routing/leaks"]),
        ({"routing": {"metrics": {"sensitive_recall": 0.95}}}, []),
        ({"squad": {"modes": {"dense": {"recall@5": 0.9}}}}, []),  # suite not run: not checked
    ],
)
def test_when_report_checked_then_each_unmet_bound_is_a_miss(bounds, missed):
    misses = th.check(REPORT, th.parse_thresholds(bounds))
    assert [m.bound.where for m in misses] == missed


def test_when_metric_missing_then_miss_message_says_not_measured():
    (miss,) = th.check(REPORT, th.parse_thresholds({"retrieval": {"modes": {"graph": {"ndcg@10": 0.5}}}}))
    assert miss.actual is None and "not measured" in miss.message
    assert miss.to_dict()["threshold"] == 0.5


def test_when_committed_file_loaded_then_routing_allows_no_leak():
    bounds = th.load_thresholds()
    assert th.Bound("routing", None, "leaks", "max", 0.0) in bounds
    assert {b.suite for b in bounds} >= {"retrieval", "multihop", "routing", "squad"}


def test_when_file_missing_or_not_yaml_then_threshold_error(tmp_path):
    with pytest.raises(th.ThresholdError, match="not found"):
        th.load_thresholds(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("retrieval: [unclosed")
    with pytest.raises(th.ThresholdError, match="not valid YAML"):
        th.load_thresholds(bad)


def test_when_set_bounds_given_then_checked_per_prompt_set():
    from evals.thresholds import check, parse_thresholds

    bounds = parse_thresholds({"routing": {"sets": {"dev": {"leaks": {"max": 0}}, "heldout": {"recall_secret": 1.0}}}})
    report = {"suites": {"routing": {"sets": {"dev": {"leaks": 2.0}}}}}

    misses = {m.bound.where: m.actual for m in check(report, bounds)}

    assert misses == {"routing/dev/leaks": 2.0, "routing/heldout/recall_secret": None}
