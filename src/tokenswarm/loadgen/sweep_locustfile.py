"""The locustfile ``tokenswarm sweep`` passes to Locust: the user classes and listeners of the
run locustfile, plus the sweep load shape (``--sweep-config FILE`` says which stages)."""

from tokenswarm.loadgen.locustfile import *  # noqa: F403  (users + every listener)
from tokenswarm.loadgen.locustfile import __all__ as _users
from tokenswarm.loadgen.shape import SweepShape

__all__ = [*_users, "SweepShape"]
