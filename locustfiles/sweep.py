"""Concurrency sweep: ``locust -f locustfiles/sweep.py --sweep-config configs/sim.yaml --host URL``.

The stages (scenarios x concurrency levels), warm-up, durations and SLOs come from the YAML
config; ``tokenswarm sweep`` runs this for you and builds the report. Use it directly for a
master with externally started workers (``--master``, then ``locust -f ... --worker``).
"""

from tokenswarm.loadgen.sweep_locustfile import *  # noqa: F403
from tokenswarm.loadgen.sweep_locustfile import __all__  # noqa: F401
