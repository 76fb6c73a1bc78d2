"""Self-contained HTML report: plots embedded as PNG, metric table, plain verdicts."""

from omicsgen.report.build import build_report, verdicts

__all__ = ["build_report", "verdicts"]
