"""docs/evaluate.md defines every KPI, lists every target and every flag (the docs
cannot drift from fleetstream/report/kpis.py, targets.py and the parser)."""

from __future__ import annotations

import os

from fleetstream.evaluate import parser
from fleetstream.report.kpis import MODEL_KPIS, POLICY_DIFFS, POLICY_KPIS
from fleetstream.report.targets import MODEL_TARGETS, POLICY_TARGETS

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "evaluate.md")


def test_docs_define_every_kpi_target_and_flag():
    doc = open(DOC, encoding="utf-8").read()
    for k in [*MODEL_KPIS, *POLICY_KPIS, *POLICY_DIFFS]:
        assert f"`{k.key}`" in doc, k.key
    for t in [*MODEL_TARGETS, *POLICY_TARGETS]:
        assert t.text in doc, t.text
    for act in parser()._actions:
        for opt in act.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in doc, opt
    assert os.path.exists(os.path.join(os.path.dirname(DOC), "img", "evaluate-report.png"))
