import pytest

from eci_redeploy.core.errors import ImageReferenceError
from eci_redeploy.core.imageref import ImageRef

D = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("docker.io/library/nginx", "docker.io", "library/nginx", None, None),
        ("index.docker.io/library/nginx:1", "docker.io", "library/nginx", "1", None),
        ("localhost/app:dev", "localhost", "app", "dev", None),
        ("localhost:5000/team/app:dev", "localhost:5000", "team/app", "dev", None),
        ("127.0.0.1:5000/ns/repo", "127.0.0.1:5000", "ns/repo", None, None),
        (f"nginx@{D}", "docker.io", "library/nginx", None, D),
        (f"reg.example.com/a/b:1.0@{D}", "reg.example.com", "a/b", "1.0", D),
        ("REG.Example.com/a/b", "reg.example.com", "a/b", None, None),
        (
            "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web:1.4.0",
            "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
            "team/web",
            "1.4.0",
            None,
        ),
        ("a/b__c/d-e.f:v1.2.3-rc.1", "docker.io", "a/b__c/d-e.f", "v1.2.3-rc.1", None),
        ("[::1]:5000/app", "[::1]:5000", "app", None, None),
    ],
)
def test_parse(text, registry, repository, tag, digest):
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text  # the original form is kept for display


@pytest.mark.parametrize(
    "text",
    [
        "",
        " nginx",
        "Nginx",
        "team/Web:1",
        "reg.example.com/Team/web",
        "nginx:",
        "nginx:-bad",
        "nginx:" + "a" * 129,
        "nginx@sha256:abc",
        "nginx@sha256:" + "A" * 64,
        "nginx@" + "0" * 64,
        "reg.example.com/",
        "-reg.example.com/a",
        "a//b",
        "a/b/",
        "a..b",
        "a/" + "b" * 260,
    ],
)
def test_rejects(text):
    with pytest.raises(ImageReferenceError):
        ImageRef.parse(text)


def test_uppercase_repository_error_names_the_rule():
    with pytest.raises(ImageReferenceError, match="must be lowercase"):
        ImageRef.parse("reg.example.com/Team/web")


@pytest.mark.parametrize(
    ("text", "tag", "digest", "expected"),
    [
        ("nginx:1", "2", None, "nginx:2"),
        ("nginx:1", None, D, f"nginx@{D}"),
        ("docker.io/library/nginx:1", "2", None, "docker.io/library/nginx:2"),
        ("localhost:5000/a/b:1", None, D, f"localhost:5000/a/b@{D}"),
        (f"r.io/a@{D}", "3", None, "r.io/a:3"),
    ],
)
def test_with_version_keeps_the_written_form(text, tag, digest, expected):
    assert ImageRef.parse(text).with_version(tag=tag, digest=digest).render() == expected
