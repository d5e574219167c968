// Drives the official Node ECI SDK (@alicloud/eci20180808 + @alicloud/openapi-client, pinned in
// package-lock.json) against fake-eci; tests/fake/test_fake_clients.py runs it and checks every step.
// Usage: node eci_client.js '{"endpoint": "127.0.0.1:1234", "accessKeyId": ..., "accessKeySecret": ...,
//                            "signatureAlgorithm": "v2" | null, "wrongSecret": "..."}'
// Prints one JSON object: {step: {ok, code, statusCode, data}} for every step.
"use strict";
const Eci = require("@alicloud/eci20180808");
const OpenApi = require("@alicloud/openapi-client");

const args = JSON.parse(process.argv[2]);
const REGION = "cn-hangzhou";

function client(secret, accessKeyId = args.accessKeyId) {
  const config = new OpenApi.Config({
    accessKeyId,
    accessKeySecret: secret,
    endpoint: args.endpoint,
    protocol: "http",
    regionId: REGION,
  });
  if (args.signatureAlgorithm) config.signatureAlgorithm = args.signatureAlgorithm;
  return new Eci.default(config);
}

async function step(fn) {
  try {
    const response = await fn();
    return { ok: true, statusCode: response.statusCode, data: response.body.toMap() };
  } catch (err) {
    return { ok: false, code: err.code, statusCode: err.statusCode, data: err.data || null, message: err.message };
  }
}

function createRequest(name, token) {
  return new Eci.CreateContainerGroupRequest({
    regionId: REGION,
    containerGroupName: name,
    securityGroupId: "sg-node",
    vSwitchId: "vsw-node",
    clientToken: token,
    tag: [new Eci.CreateContainerGroupRequestTag({ key: "app", value: "node" })],
    container: [
      new Eci.CreateContainerGroupRequestContainer({
        name: "app",
        image: "nginx:1.25",
        port: [new Eci.CreateContainerGroupRequestContainerPort({ port: 80, protocol: "TCP" })],
      }),
    ],
  });
}

(async () => {
  const c = client(args.accessKeySecret);
  const out = {};
  out.create = await step(() => c.createContainerGroup(createRequest("node-web", "node-token-1")));
  out.replay = await step(() => c.createContainerGroup(createRequest("node-web", "node-token-1")));
  out.mismatch = await step(() => c.createContainerGroup(createRequest("node-other", "node-token-1")));
  const pages = [];
  for (let i = 0; i < 3; i++) {
    pages.push(await step(() => c.createContainerGroup(createRequest(`node-page-${i}`, `node-page-${i}`))));
  }
  const id = out.create.ok ? out.create.data.ContainerGroupId : "missing";
  out.restart = await step(() =>
    c.restartContainerGroup(
      new Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: pages[0].data.ContainerGroupId })
    )
  );
  out.filtered = await step(() =>
    c.describeContainerGroups(
      new Eci.DescribeContainerGroupsRequest({
        regionId: REGION,
        vSwitchId: "vsw-node",
        tag: [new Eci.DescribeContainerGroupsRequestTag({ key: "app", value: "node" })],
        limit: 2,
      })
    )
  );
  const token = out.filtered.ok ? out.filtered.data.NextToken : "";
  out.page2 = await step(() =>
    c.describeContainerGroups(
      new Eci.DescribeContainerGroupsRequest({ regionId: REGION, vSwitchId: "vsw-node", limit: 2, nextToken: token })
    )
  );
  out.badToken = await step(() =>
    c.describeContainerGroups(new Eci.DescribeContainerGroupsRequest({ regionId: REGION, nextToken: "garbage" }))
  );
  out.update = await step(() =>
    c.updateContainerGroup(
      new Eci.UpdateContainerGroupRequest({
        regionId: REGION,
        containerGroupId: id,
        updateType: "IncrementalUpdate",
        clientToken: "node-update-1",
        container: [new Eci.UpdateContainerGroupRequestContainer({ name: "app", image: "nginx:1.26" })],
      })
    )
  );
  out.restartWhileUpdating = await step(() =>
    c.restartContainerGroup(new Eci.RestartContainerGroupRequest({ regionId: REGION, containerGroupId: id }))
  );
  out.afterUpdate = await step(() =>
    c.describeContainerGroups(
      new Eci.DescribeContainerGroupsRequest({ regionId: REGION, containerGroupIds: JSON.stringify([id]) })
    )
  );
  out.delete = await step(() =>
    c.deleteContainerGroup(new Eci.DeleteContainerGroupRequest({ regionId: REGION, containerGroupId: id }))
  );
  out.wrongSecret = await step(() =>
    client(args.wrongSecret).describeContainerGroups(new Eci.DescribeContainerGroupsRequest({ regionId: REGION }))
  );
  const stranger = client("any-secret", "LTAIunknown"); // a key the fake does not know: accepted, like moto
  out.unknownKey = await step(() =>
    stranger.describeContainerGroups(new Eci.DescribeContainerGroupsRequest({ regionId: REGION }))
  );
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(3);
});
