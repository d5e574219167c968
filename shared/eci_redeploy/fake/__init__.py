"""A local fake of the ECI API (moto's shape): `backend` holds state, `wire` speaks the SDK's protocol,
`server` serves it over HTTP, `inprocess` plugs it straight into the gateway for unit-speed tests."""
