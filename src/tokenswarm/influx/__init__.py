"""InfluxDB line protocol and the one batching writer shared by the load side and the agent."""
