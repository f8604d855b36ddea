"""Whether a service takes the replica fence: on FerretDB yes, on MongoDB no (replicas start as
usual), on FerretDB with the unsafe switch no (tests of the claim primitives only)."""

from typing import Any, ClassVar

import pytest

from eci_common import runtime as runtime_module
from eci_common.runtime import ServiceRuntime
from eci_common.settings import ServiceSettings

MONGODB_7 = {"version": "7.0.14", "versionArray": [7, 0, 14, 0], "ok": 1.0}
FERRETDB_1 = {**MONGODB_7, "version": "7.0.42", "ferretdbVersion": "v1.24.2"}


class _Database:
    """Answers `buildInfo` like the server named; any collection access is a test failure."""

    def __init__(self, build_info: dict[str, Any]) -> None:
        self._build_info = build_info

    async def command(self, name: str) -> dict[str, Any]:
        assert name == "buildInfo"
        return self._build_info

    def __getitem__(self, name: str) -> Any:
        raise AssertionError(f"the fence collection {name} was touched")


class _Fence:
    taken: ClassVar[list[str]] = []

    def __init__(self, collection: Any, *, service: str, **kwargs: Any) -> None:
        self.service = service

    async def acquire(self) -> None:
        _Fence.taken.append(self.service)


def _runtime(build_info: dict[str, Any], **settings: Any) -> ServiceRuntime:
    values = {"mongodb_database": "d", "consumer_group": "g", "http_port": 1, **settings}
    runtime = ServiceRuntime(ServiceSettings(**values), service="svc")
    runtime.db = _Database(build_info)  # type: ignore[assignment]
    return runtime


async def test_on_mongodb_no_fence_is_taken() -> None:
    runtime = _runtime(MONGODB_7)
    await runtime._take_fence()
    assert runtime.fence is None


async def test_on_ferretdb_the_unsafe_switch_skips_the_fence() -> None:
    runtime = _runtime(FERRETDB_1, unsafe_allow_replicas_on_ferretdb=True)
    await runtime._take_fence()
    assert runtime.fence is None


async def test_on_ferretdb_the_fence_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "ReplicaFence", _Fence)
    runtime = _runtime(FERRETDB_1)
    runtime.db = _AnyCollection(FERRETDB_1)  # type: ignore[assignment]
    await runtime._take_fence()
    assert _Fence.taken == ["svc"]


class _AnyCollection(_Database):
    def __getitem__(self, name: str) -> Any:
        return name
