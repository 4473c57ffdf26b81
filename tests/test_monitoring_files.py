"""The sample Grafana dashboard and alerting rules in docs/monitoring/ parse, and name only
metrics the platform exports (a renamed metric would silently blank a panel or an alert)."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from integrations import metrics

DOCS = Path(__file__).resolve().parent.parent / "docs" / "monitoring"
NAME = re.compile(r"\brelay_[a-z_]+")


def exported() -> set[str]:
    names = set(metrics.gauge_names())
    for family in REGISTRY.collect():
        if family.name.startswith("relay_"):
            names |= {family.name + end for end in ("", "_total", "_bucket", "_count", "_sum")}
    return names


def test_alert_rules_use_exported_metrics():
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert exprs
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used and used <= exported(), used - exported()


def test_dashboard_panels_use_exported_metrics():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used and used <= exported(), used - exported()
