"""kybernetes.client: how every component (scheduler, controllers, kubelet, proxy) talks to the API server.

Everything goes over HTTP(S), so each component can run in its own process; nothing here touches the
store. The tiers, lowest first (each module's docstring has the details):

- ``config``: ``ClientConfig`` (server, CA, token, client certificate) and kubeconfig loading;
- ``rest``: ``ApiClient`` (one aiohttp session) and ``ResourceClient`` (get, list, create, update,
  patch, delete, subresources, watch) with ``StatusError`` errors and bounded retries;
- ``informer``: ``Reflector`` (list + watch, re-list on 410), ``Indexer`` cache, ``Informer`` with event
  handlers and resync, ``SharedInformerFactory``;
- ``workqueue``: ``WorkQueue`` (dedupe, one worker per key, delays, per-key exponential backoff);
- ``leaderelection``: ``LeaderElector`` on coordination.k8s.io Leases;
- ``events``: ``EventRecorder`` writing aggregated core/v1 Events in the background.

A controller is typically: a ``SharedInformerFactory`` whose handlers ``add`` keys to a ``WorkQueue``,
workers (``run_worker``) that read the informer caches and write through ``ResourceClient``, an
``EventRecorder``, all started under a ``LeaderElector``. Only the names below are public.
"""

from kybernetes.api.errors import StatusError
from kybernetes.client.config import ClientConfig, ConfigError, default_kubeconfig_path
from kybernetes.client.events import EVENT_NORMAL, EVENT_WARNING, EventRecorder, object_reference
from kybernetes.client.informer import (
    LABEL_INDEX,
    NAMESPACE_INDEX,
    Backoff,
    DeletedFinalStateUnknown,
    HandlerRegistration,
    Indexer,
    IndexFunc,
    Informer,
    Reflector,
    ReflectorSink,
    SharedInformerFactory,
    label_index_func,
    namespace_index_func,
    object_key,
    split_key,
)
from kybernetes.client.leaderelection import LeaderElectionRecord, LeaderElector
from kybernetes.client.rest import (
    ApiClient,
    ApiConnectionError,
    PatchType,
    ResourceClient,
    ResourceExpiredError,
    RetryPolicy,
    WatchError,
    WatchEvent,
    WatchStream,
    status_error_from,
)
from kybernetes.client.workqueue import (
    BucketRateLimiter,
    ExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    QueueShutDown,
    RateLimiter,
    WorkQueue,
    default_controller_rate_limiter,
    run_worker,
)

__all__ = [
    "EVENT_NORMAL",
    "EVENT_WARNING",
    "LABEL_INDEX",
    "NAMESPACE_INDEX",
    "ApiClient",
    "ApiConnectionError",
    "Backoff",
    "BucketRateLimiter",
    "ClientConfig",
    "ConfigError",
    "DeletedFinalStateUnknown",
    "EventRecorder",
    "ExponentialFailureRateLimiter",
    "HandlerRegistration",
    "IndexFunc",
    "Indexer",
    "Informer",
    "LeaderElectionRecord",
    "LeaderElector",
    "MaxOfRateLimiter",
    "PatchType",
    "QueueShutDown",
    "RateLimiter",
    "Reflector",
    "ReflectorSink",
    "ResourceClient",
    "ResourceExpiredError",
    "RetryPolicy",
    "SharedInformerFactory",
    "StatusError",
    "WatchError",
    "WatchEvent",
    "WatchStream",
    "WorkQueue",
    "default_controller_rate_limiter",
    "default_kubeconfig_path",
    "label_index_func",
    "namespace_index_func",
    "object_key",
    "object_reference",
    "run_worker",
    "split_key",
    "status_error_from",
]
