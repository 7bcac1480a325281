"""Spread matching pods evenly over topology domains (DoNotSchedule: filter; ScheduleAnyway: score)."""

from cluster.scheduler.plugins.podtopologyspread.plugin import PodTopologySpread

__all__ = ["PodTopologySpread"]
