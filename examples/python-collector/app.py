"""Minimal Vigia collector in Python: reports the length of a configured greeting.

Built into a WebAssembly component with componentize-py (see build.sh); the `wit_world`
package is generated from /wit at build time.
"""

import json

import wit_world
from wit_world.imports import host, types


class WitWorld(wit_world.WitWorld):
    def info(self) -> types.PluginInfo:
        # Must match `id` in plugin.toml.
        return types.PluginInfo(
            id="python-collector",
            version="0.1.0",
            description="Minimal example collector written in Python",
        )

    def collect(self, context: types.CollectContext) -> list[types.MetricSample]:
        config = json.loads(host.config())
        greeting = config.get("greeting", "hello")
        host.log(types.LogLevel.DEBUG, f"collecting for {context.resource}", [])
        return [
            types.MetricSample(
                name="python.greeting_length",
                value=float(len(greeting)),
                unit=None,
                labels=[("greeting", greeting)],
                timestamp_ms=None,
            )
        ]
