"""Reports on the bus: the monitoring report and cluster reports in HTML, PDF and CSV."""

from __future__ import annotations

from contracts import reports as c
from mapnet.runtime.service import Runtime

from ..adapters.report_inputs import ReportInputs
from ..service_layer.report import Reports


def build_reports(rt: Runtime) -> None:
    inputs = ReportInputs(lambda: rt.nc, rt.region, rt.source)
    reports = Reports(inputs, rt.region)
    rt.handles(c.GET_MONITORING_REPORT)(reports.monitoring)
    rt.handles(c.GET_CLUSTER_REPORT)(reports.cluster)
