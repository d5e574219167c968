"""A local fake of the ECI API, laid out like a moto service:

- `models.py`: state (container groups, image caches), lifecycle, idempotency, paging, faults;
  `describe.py`: the full DescribeContainerGroups shapes;
- `responses.py`: what a request means (action, parameters, flattened keys) and the answer's JSON;
- `exceptions.py`: the API's errors; `signing.py`: both signature styles, credentials, replay, clock;
- `server.py`: HTTP (werkzeug) plus the `/_fake/` control API;
- `inprocess.py`: the same path without a socket, hooked into the SDK's transport.

`backend.py` and `wire.py` re-export the old names.
"""
