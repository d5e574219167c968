"""A local fake of the ECI API, laid out like a moto service:

- `models.py`: state (container groups, image caches), lifecycle, idempotency, paging, faults;
  `group.py`: one group as kept in memory; `describe.py`: the full DescribeContainerGroups shapes;
- `responses.py`: what a request means (action, parameters, flattened keys) and the answer's JSON;
  `params.py`: the numeric parameters' types;
- `exceptions.py`: the API's errors; `signing.py`: both signature styles, credentials, replay, clock;
- `server.py`: HTTP (werkzeug) plus the `/_fake/` control API;
- `inprocess.py`: the same path without a socket, hooked into the SDK's transport;
- `acr_gates.py`: the ACR calls the gates use (scan, signing records) and tag writes.
"""
