"""``python worker_node.py GCS_ADDRESS CPUS TEMP_DIR``: a Ray worker node of its own, on 127.0.0.1, until
SIGTERM; run with its machine's environment and working directory.

``ray start --address`` refuses a cluster whose nodes all bind to the loopback address (Ray's
multi-node switch would bind them to the machine's network address instead), so the node is started
here the way Ray's own ``cluster_utils`` starts one, in a process of its own.
"""

import signal
import sys
import threading

from ray._private.node import Node
from ray._private.parameter import RayParams


def main(gcs_address: str, cpus: str, temp_dir: str) -> None:
    params = RayParams(
        gcs_address=gcs_address,
        node_ip_address="127.0.0.1",
        num_cpus=int(cpus),
        num_gpus=0,
        temp_dir=temp_dir,
        node_manager_port=0,
        min_worker_port=0,
        max_worker_port=0,
        dashboard_agent_listen_port=None,
    )
    node = Node(params, head=False, shutdown_at_exit=False, spawn_reaper=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"node {node.node_id} joined {gcs_address}", flush=True)
    stopped.wait()
    node.kill_all_processes(check_alive=False, allow_graceful=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
