"""JUnit XML of a check, for CI systems: one test suite per config, one case per check."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from engine.check.compare import BOUND_PREFIX, ConfigCheck


def junit_xml(reports: Sequence[ConfigCheck]) -> str:
    """JUnit XML: a suite per config, a case per metric, hash and sweep row.

    A drift is a ``<failure type="drift">`` whose message gives the baseline and current
    values, the tolerance and the most likely cause; a config without a baseline is one
    case, ``baseline``, with a ``<failure type="missing">`` saying how to create it.
    """
    failures = sum(len(r.failures) for r in reports)
    tests = sum(len(r.checks) for r in reports)
    root = ET.Element("testsuites", name="eastwind check", tests=str(tests), failures=str(failures))
    for report in reports:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=report.name,
            tests=str(len(report.checks)),
            failures=str(len(report.failures)),
            file=report.path,
        )
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=report.name, name=check.metric)
            if check.ok:
                continue
            if report.missing:
                message, kind = report.cause, "missing"
            elif check.metric.startswith(BOUND_PREFIX):
                message, kind = f"{check.metric}: {check.current} ({check.tolerance})", "bound"
            else:
                message = (
                    f"{check.metric} drifted: baseline {check.baseline} -> {check.current} "
                    f"(tolerance {check.tolerance}); {report.cause}"
                )
                kind = "drift"
            failure = ET.SubElement(case, "failure", message=message, type=kind)
            failure.text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
