"""{{name}}: a Vigia collector plugin in Python, built with componentize-py (`vigia plugin build`)."""

import json

import wit_world
from wit_world.imports import host, types


class WitWorld(wit_world.WitWorld):
    def info(self) -> types.PluginInfo:
        # Must match `id` in plugin.toml.
        return types.PluginInfo(id="{{name}}", version="0.1.0", description="{{name}} collector")

    def collect(self, context: types.CollectContext) -> list[types.MetricSample]:
        config = json.loads(host.config())
        return [types.MetricSample(name="{{name}}.value", value=float(config.get("value", 1)),
                                   unit=None, labels=[], timestamp_ms=None)]
