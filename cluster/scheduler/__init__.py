"""The scheduler: assigns pending pods to nodes (kube-scheduler's framework, small).

    from cluster.scheduler import Scheduler, SchedulerConfig
    await Scheduler(api_client, SchedulerConfig()).run()

Layout: framework/ (extension points, runtime, config), plugins/ (one folder per plugin),
cache.py (node infos + assumed pods), queue.py (active/backoff/unschedulable), decide.py (one
decision), handlers.py (watch events -> cache/queue), scheduler.py (the loop and binding).
"""

from cluster.scheduler.framework import FrameworkConfig
from cluster.scheduler.scheduler import Scheduler, SchedulerApi, SchedulerConfig

__all__ = ["FrameworkConfig", "Scheduler", "SchedulerApi", "SchedulerConfig"]
