"""The API's routers, one module per resource: `auth`, `catalog`, `cases`.

Each handler authorises, makes one engine call and answers with `api.deps.json_response`; the
shared plumbing (`Services`, the `services` dependency) is in `api.deps`, JSON shapes the engine
does not own in `api.presenters`.
"""
