"""What each function's RAM role allows: exactly the API actions its code path calls (issue 22, least
privilege). `s.yaml` gives every function its own role (ECI_REDEPLOY_<FUNCTION>_ROLE_ARN) and
deploy/ram/<function>.json is that role's policy; tests/functions/test_least_privilege.py holds the policies equal
to this table and the table to the clients' own action tables (clients/eci.py `_REQUESTS`,
clients/ess.py `ESS_ACTIONS`, gates/acr.py `RAM_ACTIONS`). The gateway a function builds enforces it
(functions/runtime.gateway_factory): a call outside its role fails here, before it is sent, with the
action named, instead of as a Forbidden from the cloud.

Why each function needs what it has:
- push: hands pushes to the worker (fc:InvokeFunction); a scan or signing event looks for the holds it
  releases in the groups' tags (eci:DescribeContainerGroups) and reads ACR's evidence (cr:Get*);
  its async failure destination is an MNS queue (mns:SendMessage).
- webhook: previews the plan it replies with (describes: ECI, and ESS for scaling-group rules),
  confirms digests with the registry (cr:GetAuthorizationToken for ACR Enterprise Edition), evaluates
  gates (cr:Get*), hands off (fc:InvokeFunction). No write of any kind.
- timer: the reconcile's dry run (describes, registry and ACR reads), hands what drifted to the worker.
- worker: the single writer: every ECI and ESS action the product sends, the ACR reads, its own
  continuation (fc:InvokeFunction), its failure destination.
"""

from __future__ import annotations

ECI_READS = frozenset({"eci:DescribeContainerGroups"})
ESS_READS = frozenset(
    {"ess:DescribeScalingGroups", "ess:DescribeEciScalingConfigurations", "ess:DescribeScalingInstances"}
)
GATE_EVIDENCE = frozenset({"cr:GetRepository", "cr:GetScan", "cr:GetScanCount"})  # gates/acr.py RAM_ACTIONS
REGISTRY_LOGIN = frozenset({"cr:GetAuthorizationToken"})
INVOKE = frozenset({"fc:InvokeFunction"})
FAILURE_DESTINATION = frozenset({"mns:SendMessage"})  # asyncInvokeConfig.destinationConfig.onFailure
ECI_WRITES = frozenset(
    {
        "eci:CreateContainerGroup",
        "eci:UpdateContainerGroup",
        "eci:RestartContainerGroup",
        "eci:DeleteContainerGroup",
        "eci:CreateImageCache",
        "eci:DescribeImageCaches",
        "eci:TagResources",
        "eci:UntagResources",
    }
)
ESS_WRITES = frozenset(
    {
        "ess:ModifyEciScalingConfiguration",
        "ess:SuspendProcesses",
        "ess:ResumeProcesses",
        "ess:EnterStandby",
        "ess:ExitStandby",
        "ess:TagResources",
        "ess:UntagResources",
    }
)

ROLES: dict[str, frozenset[str]] = {
    "push": INVOKE | ECI_READS | GATE_EVIDENCE | FAILURE_DESTINATION,
    "webhook": ECI_READS | ESS_READS | REGISTRY_LOGIN | GATE_EVIDENCE | INVOKE,
    "timer": ECI_READS | ESS_READS | REGISTRY_LOGIN | GATE_EVIDENCE | INVOKE,
    "worker": (
        ECI_READS | ECI_WRITES | ESS_READS | ESS_WRITES | REGISTRY_LOGIN | GATE_EVIDENCE | INVOKE | FAILURE_DESTINATION
    ),
}


def role_of(function_name: str | None) -> frozenset[str] | None:
    """The allowed actions of a deployed function (FC names them eci-redeploy-<function>); None: not one of ours."""
    if not function_name:
        return None
    return ROLES.get(function_name.removeprefix("eci-redeploy-"))
