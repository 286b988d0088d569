"""scim2-server's storage interface over vahva's database: it calls these between the
protocol's steps (validate, apply PUT/PATCH, check ETags), inside the request's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from scim2_models import (
    NotFoundException,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
)
from scim2_server.storage import ScimStorage, SearchPage

from . import groups, people, query
from .people import Writer
from .provider import GROUP_TYPE, USER_TYPE


class _Kind:
    def __init__(
        self,
        rows: Callable[[], QuerySet[Any]],
        resource_of: Callable[[Any], Resource[Any]],
        columns: dict[str, query.Column],
        module: Any,
    ) -> None:
        self.rows, self.resource_of, self.columns, self.module = rows, resource_of, columns, module


_KINDS = {
    USER_TYPE.name: _Kind(people.visible, people.resource_of, query.USER_COLUMNS, people),
    GROUP_TYPE.name: _Kind(groups.visible, groups.resource_of, query.GROUP_COLUMNS, groups),
}


def _kind(resource_type: ResourceType) -> _Kind:
    kind = _KINDS.get(str(resource_type.name))
    if kind is None:
        raise NotFoundException(detail=f"No resource type {resource_type.name!r}")
    return kind


class _Matches:
    """The resources of one kind a search's filter keeps, counted and paged in SQL when the
    filter has columns, else evaluated by scim2-models on the SQL-narrowed rows."""

    def __init__(self, kind: _Kind, search_request: SearchRequest[Any]) -> None:
        self.kind = kind
        self.filter = search_request.filter
        rows = kind.rows().order_by("pk")
        self.sql = rows
        self.evaluated: list[Resource[Any]] | None = None
        if self.filter is None:
            return
        exact = query.exact(self.filter.ast, kind.columns)
        if exact is not None:
            self.sql = rows.filter(exact)
            return
        # Attributes vahva keeps no column for (emails.value, name.familyName, the enterprise
        # extension...): the SQL part narrows, scim2-models evaluates the whole filter.
        narrowed = rows.filter(query.prefilter(self.filter.ast, kind.columns))
        scim_filter = self.filter
        self.evaluated = [
            resource
            for resource in map(kind.resource_of, narrowed.iterator(chunk_size=500))
            if scim_filter.match(resource)
        ]

    def count(self) -> int:
        return len(self.evaluated) if self.evaluated is not None else self.sql.count()

    def page(self, offset: int, count: int | None) -> list[Resource[Any]]:
        stop = None if count is None else offset + count
        if self.evaluated is not None:
            return self.evaluated[offset:stop]
        return [self.kind.resource_of(row) for row in self.sql[offset:stop]]


class VahvaStorage(ScimStorage):
    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def operation(self) -> Any:
        # Nothing half-saved: one operation, one transaction (a savepoint in the request's).
        return transaction.atomic()

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        return _kind(resource_type).module.get(resource_id)  # type: ignore[no-any-return]

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        start = search_request.start_index_0 or 0
        count = search_request.count
        # At the root (/.search) the types are one list: Users, then Groups.
        total, found = 0, list[Resource[Any]]()
        for resource_type in resource_types:
            matches = _Matches(_kind(resource_type), search_request)
            size = matches.count()
            wanted = None if count is None else count - len(found)
            if wanted is None or wanted > 0:
                offset = max(start - total, 0)
                if offset < size:
                    found += matches.page(offset, wanted)
            total += size
        return SearchPage(total=total, resources=found)

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        return _kind(resource_type).module.create(resource, self.writer)  # type: ignore[no-any-return]

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        module = _kind(resource_type).module
        return module.update(resource, self.writer, expected_version=expected_version)  # type: ignore[no-any-return]

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        _kind(resource_type).module.delete(
            resource_id, self.writer, expected_version=expected_version
        )
