"""Thresholds that fail CI: the minimum (or maximum) each metric of each suite may reach.

The YAML file mirrors the report's JSON::

    retrieval:                 # suite
      modes:                   # per retriever mode
        hybrid:
          recall@5: 0.85       # a bare number is a minimum
          latency_p95_ms: {max: 500}
    routing:
      metrics:                 # suites without modes
        leaks: {max: 0}
      sets:                    # per prompt set of the routing suite (dev, tuning, heldout)
        tuning:
          leaks_secret: {max: 0}

Only suites present in the report are checked; a bounded metric the report lacks (a mode that
failed or was skipped) is a miss, so a broken component cannot pass by disappearing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("thresholds.yaml")


class ThresholdError(ValueError):
    """The thresholds file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class Bound:
    """One threshold: `metric` of `suite` (and `mode`) must be >= (min) or <= (max) `value`."""

    suite: str
    mode: str | None
    metric: str
    kind: str
    value: float
    section: str = "modes"  # where `mode` is looked up: "modes" (retriever modes) or "sets" (prompt sets)

    @property
    def where(self) -> str:
        return f"{self.suite}/{self.mode}/{self.metric}" if self.mode else f"{self.suite}/{self.metric}"


@dataclass(frozen=True)
class Miss:
    """A bound the report did not meet; `actual` is None when the metric was not measured."""

    bound: Bound
    actual: float | None

    @property
    def message(self) -> str:
        op = ">=" if self.bound.kind == "min" else "<="
        got = "not measured" if self.actual is None else f"{self.actual:.4f}"
        return f"{self.bound.where}: {got}, needs {op} {self.bound.value:g}"

    def to_dict(self) -> dict[str, Any]:
        b = self.bound
        return {"suite": b.suite, "mode": b.mode, "metric": b.metric, "bound": b.kind,
                "threshold": b.value, "actual": self.actual, "message": self.message}


def _bound(suite: str, mode: str | None, metric: str, spec: Any, where: str, section: str = "modes") -> Bound:
    if isinstance(spec, bool):
        raise ThresholdError(f"{where}: expected a number or {{min|max: number}}, got {spec!r}")
    if isinstance(spec, (int, float)):
        return Bound(suite, mode, metric, "min", float(spec), section)
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("min", "max"):
        kind, value = next(iter(spec.items()))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Bound(suite, mode, metric, kind, float(value), section)
    raise ThresholdError(f"{where}: expected a number or {{min|max: number}}, got {spec!r}")


def parse_thresholds(data: Any, source: str = "thresholds") -> list[Bound]:
    """Bounds from the parsed YAML mapping (see the module docstring for its shape)."""
    if not isinstance(data, dict):
        raise ThresholdError(f"{source}: expected a mapping of suite -> modes/metrics")
    bounds: list[Bound] = []
    for suite, body in data.items():
        if not isinstance(body, dict) or not set(body) <= {"modes", "metrics", "sets"}:
            raise ThresholdError(f"{source}: suite {suite!r} must map 'modes', 'sets' and/or 'metrics'")
        for metric, spec in (body.get("metrics") or {}).items():
            bounds.append(_bound(suite, None, metric, spec, f"{source}: {suite}.metrics.{metric}"))
        for section in ("modes", "sets"):
            for mode, specs in (body.get(section) or {}).items():
                if not isinstance(specs, dict):
                    raise ThresholdError(f"{source}: {suite}.{section}.{mode} must map metric -> bound")
                for metric, spec in specs.items():
                    bounds.append(_bound(suite, mode, metric, spec, f"{source}: {suite}.{section}.{mode}.{metric}", section))
    return bounds


def load_thresholds(path: Path | str = DEFAULT_PATH) -> list[Bound]:
    """Read bounds from a YAML file.

    Raises:
        ThresholdError: the file is missing, not YAML, or not shaped as documented.
    """
    path = Path(path)
    if not path.is_file():
        raise ThresholdError(f"thresholds file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ThresholdError(f"{path}: not valid YAML ({exc})") from None
    return parse_thresholds(data or {}, str(path))


def _actual(suite: dict[str, Any], bound: Bound) -> float | None:
    section = suite.get(bound.section, {}).get(bound.mode, {}) if bound.mode else suite.get("metrics", {})
    value = section.get(bound.metric)
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def check(report: dict[str, Any], bounds: list[Bound]) -> list[Miss]:
    """Every bound of a suite in `report["suites"]` that its value does not meet."""
    misses: list[Miss] = []
    suites = report.get("suites", {})
    for bound in bounds:
        if bound.suite not in suites:
            continue
        actual = _actual(suites[bound.suite], bound)
        ok = actual is not None and (actual >= bound.value if bound.kind == "min" else actual <= bound.value)
        if not ok:
            misses.append(Miss(bound, actual))
    return misses
