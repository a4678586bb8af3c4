"""Contract events and the registry that maps (type, version) to a model.

A contract event is a frozen pydantic model with a stable ``type`` (``<service>.<aggregate>.<event>``)
and an integer ``version``. A published version only ever gains optional fields; consumers ignore
fields they do not know; a breaking change is a new version published beside the old one.

Beside, during a migration: the publisher sends each event in both versions (two envelopes, one event
id, each saying which versions the event went out in: ``kcversions``), and every reader takes the event
once, from the copy in the oldest of those versions it knows (:meth:`ContractRegistry.takes`), passing
over the other copy without error: a reader not yet upgraded reads the old copy as before, an upgraded
one reads the same copy through the upcasters — as it reads every event published before — so a reader
upgraded in the middle of the stream neither misses an event nor takes one twice, whatever it had
received when it stopped. Integrators choose by subject. Once the old version is no longer published,
upgraded readers take the new one, the only copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

JSONDict = dict[str, Any]
Upcaster = Callable[[JSONDict], JSONDict]


class ContractEvent(BaseModel):
    """Base of every public event. Subclasses set ``type`` and ``version``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str]
    version: ClassVar[int]

    @classmethod
    def key(cls) -> tuple[str, int]:
        return (cls.type, cls.version)

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.type}.v{cls.version}"


class UnknownContractError(LookupError):
    """No contract model is registered for this (type, version)."""

    def __init__(self, type_: str, version: int) -> None:
        super().__init__(f"unknown contract {type_} v{version}")
        self.type = type_
        self.version = version


@dataclass
class ContractRegistry:
    """Contract models by (type, version), and upcasters between consecutive versions."""

    models: dict[tuple[str, int], type[ContractEvent]] = field(default_factory=dict)
    upcasters: dict[tuple[str, int], Upcaster] = field(default_factory=dict)

    def register(self, model: type[ContractEvent]) -> None:
        key = model.key()
        existing = self.models.get(key)
        if existing is not None and existing is not model:
            raise ValueError(f"contract {key} is registered twice")
        self.models[key] = model

    def register_upcaster(self, type_: str, from_version: int, fn: Upcaster) -> None:
        """``fn`` turns the data of ``from_version`` into the data of ``from_version + 1``."""
        self.upcasters[(type_, from_version)] = fn

    def model(self, type_: str, version: int) -> type[ContractEvent]:
        try:
            return self.models[(type_, version)]
        except KeyError:
            raise UnknownContractError(type_, version) from None

    def latest_version(self, type_: str) -> int:
        versions = [v for (t, v) in self.models if t == type_]
        if not versions:
            raise UnknownContractError(type_, 0)
        return max(versions)

    def takes(self, type_: str, version: int, published: Iterable[int]) -> bool:
        """Whether a reader with these contracts takes an event from its copy in ``version``, the event
        having been published in the versions ``published`` (more than one during a migration): it takes
        the copy in the oldest of them it knows — the copy it took before it knew the newer one, so its
        choice does not change when it is upgraded — and passes over the others. A copy of an event it
        knows in no published version is taken, to be refused by :meth:`decode` as unknown."""
        known = [v for v in {version, *published} if (type_, v) in self.models]
        return not known or min(known) == version

    def decode(self, type_: str, version: int, data: JSONDict, *, to: int | None = None) -> ContractEvent:
        """Validate ``data`` as (type, version), upcast to ``to`` (default: the latest known)."""
        self.model(type_, version)  # unknown (type, version) fails here, before any upcasting
        target = self.latest_version(type_) if to is None else to
        while version < target:
            step = self.upcasters.get((type_, version))
            if step is None:
                raise UnknownContractError(type_, version + 1)
            data = step(data)
            version += 1
        return self.model(type_, version).model_validate(data)

    def all(self) -> list[type[ContractEvent]]:
        return [self.models[k] for k in sorted(self.models)]


registry = ContractRegistry()

E = TypeVar("E", bound=type[ContractEvent])


def contract(model: E) -> E:
    """Class decorator: register a contract event model in the global registry."""
    registry.register(model)
    return model


def upcaster(type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Decorator: register a function upcasting ``type_`` data from ``from_version`` by one."""

    def decorate(fn: Upcaster) -> Upcaster:
        registry.register_upcaster(type_, from_version, fn)
        return fn

    return decorate
