"""The service table: every service module, in start order. The only module that imports them all."""
from __future__ import annotations

from typing import Sequence

from . import apps, kafka, mongo, redis, s3, triton
from .base import Service
from .process import StackError


def registry() -> dict[str, Service]:
    services = [kafka.SERVICE, mongo.SERVICE, redis.SERVICE, s3.SERVICE, triton.SERVICE, *apps.SERVICES]
    return {service.name: service for service in services}


def resolve(names: Sequence[str] | None, include_all: bool = False, with_requirements: bool = True) -> list[str]:
    table = registry()
    if include_all:
        wanted = list(table)
    elif not names:
        wanted = [name for name, service in table.items() if service.default]
    else:
        unknown = [name for name in names if name not in table]
        if unknown:
            raise StackError("stack", f"unknown service(s): {', '.join(unknown)}; known: {', '.join(table)}")
        wanted = list(dict.fromkeys(names))
    if with_requirements:
        todo = list(wanted)
        while todo:
            for requirement in table[todo.pop()].requires:
                if requirement not in wanted:
                    wanted.append(requirement)
                    todo.append(requirement)
    return [name for name in table if name in wanted]  # table order
