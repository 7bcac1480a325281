"""The API server's HTTPS REST side, as kubectl and client libraries speak it (aiohttp).

    paths.py        URLs to (resource, namespace, name, subresource), Kubernetes' layout
    negotiation.py  what a client asks for in Accept: JSON, a Table, aggregated discovery
    responses.py    objects, lists and metav1.Status errors as JSON
    discovery.py    /version, /api, /apis, legacy and aggregated discovery
    openapi.py      the OpenAPI documents kubectl needs to leave validation to the server
    handlers.py     the verbs: get, list, watch, create, update, patch, delete, logs, scale
    server.py       the aiohttp application: authentication, limits, routing, serving

Every call goes through the same `Api` (../api.py) as the gRPC service.
"""
