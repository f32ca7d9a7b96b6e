"""Agents for people to choose from: the named ones by name, then those only ids name."""

from __future__ import annotations

from xiaozhi_server.domain import AgentRecord, Batch, DeviceRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.devices import device_agents


async def test_an_agent_only_a_device_names_is_listed_after_the_named_ones(store: Store) -> None:
    await Ingestor(store, EventBus()).ingest(
        Batch(
            agents=[AgentRecord("agent-b", "Bob"), AgentRecord("agent-a", "alice")],
            devices=[
                DeviceRecord("aa:00:00:00:00:01", agent_id="agent-unnamed"),
                DeviceRecord("aa:00:00:00:00:02", agent_id="agent-b"),
            ],
        )
    )
    rows, total = await device_agents(store, limit=10, offset=0)
    assert [(row["agent_id"], row["name"]) for row in rows] == [
        ("agent-a", "alice"),
        ("agent-b", "Bob"),
        ("agent-unnamed", None),
    ]
    assert total == 3
