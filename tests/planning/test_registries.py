import pytest

from eci_redeploy.core.imageref import ImageRef
from eci_redeploy.planning.registry_kinds import RegistryKind, classify, same_registry


@pytest.mark.parametrize(
    ("image", "kind", "region", "instance"),
    [
        ("registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:latest", RegistryKind.ECI_COMMON, "cn-hangzhou", None),
        ("registry.cn-beijing.aliyuncs.com/eci_open/busybox", RegistryKind.ECI_COMMON, "cn-beijing", None),
        ("nginx:1.25", RegistryKind.DOCKER_HUB, None, None),
        ("bitnami/redis", RegistryKind.DOCKER_HUB, None, None),
        ("registry.cn-hangzhou.aliyuncs.com/team/web", RegistryKind.ACR_PERSONAL, "cn-hangzhou", None),
        ("registry-vpc.cn-shanghai.aliyuncs.com/team/web", RegistryKind.ACR_PERSONAL, "cn-shanghai", None),
        ("registry-intl.ap-southeast-1.aliyuncs.com/t/w", RegistryKind.ACR_PERSONAL, "ap-southeast-1", None),
        ("registry-intl-vpc.ap-southeast-1.aliyuncs.com/t/w", RegistryKind.ACR_PERSONAL, "ap-southeast-1", None),
        ("acme-registry.cn-hangzhou.cr.aliyuncs.com/team/web", RegistryKind.ACR_ENTERPRISE, "cn-hangzhou", "acme"),
        ("my-org-registry-vpc.cn-hangzhou.cr.aliyuncs.com/t/w", RegistryKind.ACR_ENTERPRISE, "cn-hangzhou", "my-org"),
        ("images.acme.com/team/web", RegistryKind.ACR_ENTERPRISE, None, None),
        ("10.0.0.5:5000/team/web", RegistryKind.SELF_MANAGED, None, None),
        ("ghcr.io/team/web", RegistryKind.PUBLIC, None, None),
        ("reg.example.com/team/web", RegistryKind.PRIVATE, None, None),
    ],
)
def test_classify(image, kind, region, instance):
    info = classify(
        ImageRef.parse(image), acr_domains=["images.acme.com"], self_managed=["10.0.0.5:5000"], public=["ghcr.io"]
    )
    assert (info.kind, info.region, info.instance_name) == (kind, region, instance)


def test_docker_hub_official():
    assert classify(ImageRef.parse("nginx")).official
    assert not classify(ImageRef.parse("bitnami/nginx")).official


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("registry.cn-hangzhou.aliyuncs.com", "registry-vpc.cn-hangzhou.aliyuncs.com", True),
        ("registry.cn-hangzhou.aliyuncs.com", "registry.cn-beijing.aliyuncs.com", False),
        ("acme-registry.cn-hangzhou.cr.aliyuncs.com", "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com", True),
        ("acme-registry.cn-hangzhou.cr.aliyuncs.com", "other-registry.cn-hangzhou.cr.aliyuncs.com", False),
        ("10.0.0.5:5000", "10.0.0.5:5000", True),
        ("10.0.0.5:5000", "10.0.0.5:5001", False),
    ],
)
def test_same_registry(a, b, same):
    assert same_registry(a, b) is same
