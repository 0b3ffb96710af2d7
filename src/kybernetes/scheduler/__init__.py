"""kube-scheduler: places pending pods on nodes, through the API only (informers + REST).

Layout, lowest first:

- ``framework/``: the plugin framework — ``types`` (Code, Status, CycleState, cluster events),
  ``helpers``, ``nodeinfo`` (PodInfo, NodeInfo with incremental aggregates), ``interface`` (one Protocol
  per extension point), ``runtime`` (Framework: PreFilter → Filter with percentageOfNodesToScore and a
  rotating start → Score/Normalize → select; FitError messages as upstream), ``preemption`` helpers;
- ``plugins/``: one module per plugin (NodeName, NodeUnschedulable, TaintToleration, NodeAffinity,
  NodePorts, NodeResourcesFit, BalancedAllocation, PodTopologySpread, InterPodAffinity,
  DefaultPreemption, DefaultBinder) and the default profile with upstream's weights;
- ``cache``: NodeInfos and assigned/assumed pods from informers (the cycle's snapshot, never copied);
- ``queue``: activeQ / backoffQ / unschedulable pods, cluster-event driven requeueing, the nominator;
- ``scheduler``: informer handlers, scheduling and binding cycles, failure reporting, preemption;
- ``app``: ``run_scheduler`` with leader election on ``kube-system/kube-scheduler``.

Public: ``run_scheduler`` and ``Scheduler``.
"""

from kybernetes.scheduler.app import run_scheduler
from kybernetes.scheduler.scheduler import Scheduler

__all__ = ["Scheduler", "run_scheduler"]
