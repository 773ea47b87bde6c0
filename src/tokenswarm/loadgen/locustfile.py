"""The locustfile ``tokenswarm run`` passes to Locust: both user classes, picked by name."""

from tokenswarm.loadgen import extensions  # noqa: F401  (registers tokenswarm's listeners)
from tokenswarm.loadgen.users import OpenAIChatUser, OpenAICompletionsUser

__all__ = ["OpenAIChatUser", "OpenAICompletionsUser"]
