"""``name=``-registered config base classes, as the toolkit's ``TypedBaseModel`` does it."""

from __future__ import annotations

import sys
import typing

from pydantic import AliasChoices, BaseModel, Field


class TypedBaseModel(BaseModel):
    """A config whose subclasses declare ``name="..."``; YAML picks them by ``_type``.

    ``full_type`` is ``<package>/<name>`` exactly like the toolkit's, so both forms resolve.
    """

    type: str = Field(default="unknown", init=False, serialization_alias="_type",
                      validation_alias=AliasChoices("type", "_type"), repr=False)

    _typed_model_name: typing.ClassVar[str | None] = None
    full_type: typing.ClassVar[str] = ""

    def __init_subclass__(cls, name: str | None = None, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            module = sys.modules[cls.__module__]
            cls._typed_model_name = name
            cls.full_type = f"{module.__package__ or module.__name__}/{name}"

    def model_post_init(self, __context: typing.Any) -> None:
        object.__setattr__(self, "type", self.__class__._typed_model_name or "unknown")

    @classmethod
    def static_type(cls) -> str:
        return cls._typed_model_name or "unknown"


class MemoryBaseConfig(TypedBaseModel):
    """The base level config object for a memory store."""


class EmbedderBaseConfig(TypedBaseModel):
    """The base level config object for an embedder."""


MemoryBaseConfigT = typing.TypeVar("MemoryBaseConfigT", bound=MemoryBaseConfig)
EmbedderBaseConfigT = typing.TypeVar("EmbedderBaseConfigT", bound=EmbedderBaseConfig)
