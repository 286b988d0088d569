"""SCIM filters (RFC 7644 §3.4.2.2) as SQL where vahva has a column for the attribute.

scim2-models parses and validates the filter (a bad one is a 400 invalidFilter before it gets
here). :func:`exact` turns the parsed filter into a ``Q`` when every part of it names a column;
:func:`prefilter` gives a ``Q`` that keeps at least every match, for the rest to be evaluated
on the resources themselves. ``userName eq``/``externalId eq`` (what identity systems send
before every create) are always one indexed query.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.db.models.functions import Lower
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
)

from vahva.accounts.models import User

from .models import ScimProfile

_CORE = {
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
}


@dataclass(frozen=True)
class Column:
    field: str
    #: caseExact=false attributes (userName, displayName) compare without regard to case.
    case_exact: bool
    kind: str = "text"  # "text", "uuid" or "bool"
    #: Whether the column is never NULL (``ne`` and ``not`` are then plain SQL negations).
    not_null: bool = True
    #: ``eq`` as an indexed lookup, where the plain column would scan every row.
    equal: Callable[[str], Q] | None = None


def _user_name_equal(value: str) -> Q:
    """userName eq, as two index lookups: a provisioned person's userName (the unique index on
    its lower-case form), or the address of a person vahva had before provisioning (kept
    lower-case, unique). One OR over the join would read every person."""
    lowered = value.lower()
    named = ScimProfile.objects.alias(lowered=Lower("user_name")).filter(lowered=lowered)
    ids = list(named.values_list("user_id", flat=True))
    ids += User.objects.filter(email=lowered, scim_profile__isnull=True).values_list(
        "pk", flat=True
    )
    return Q(pk__in=ids)


USER_COLUMNS = {
    "username": Column("scim_user_name", case_exact=False, equal=_user_name_equal),
    "displayname": Column("scim_display_name", case_exact=False),
    "externalid": Column("scim_profile__external_id", case_exact=True, not_null=False),
    "id": Column("public_id", case_exact=True, kind="uuid"),
    "active": Column("is_active", case_exact=True, kind="bool"),
}
GROUP_COLUMNS = {
    "displayname": Column("display_name", case_exact=False),
    "externalid": Column("external_id", case_exact=True),
    "id": Column("public_id", case_exact=True, kind="uuid"),
}

_TEXT_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
}
_NOTHING = Q(pk__in=[])


def _column(path: AttrPath, columns: dict[str, Column]) -> Column | None:
    if path.sub_attr is not None or (path.uri and path.uri.casefold() not in _CORE):
        return None
    return columns.get(path.attr.casefold())


def _comparison(node: Comparison, columns: dict[str, Column]) -> Q | None:
    column = _column(node.attr_path, columns)
    if column is None:
        return None
    if node.op == CompareOperator.ne:
        equal = _compare(column, CompareOperator.eq, node.value)
        return ~equal if equal is not None and column.not_null else None
    return _compare(column, node.op, node.value)


def _compare(column: Column, op: CompareOperator, value: Any) -> Q | None:
    if column.kind == "bool":
        return (
            Q(**{column.field: value})
            if op == CompareOperator.eq and isinstance(value, bool)
            else None
        )
    if not isinstance(value, str) or op not in _TEXT_LOOKUPS:
        return None
    if column.kind == "uuid":
        if op != CompareOperator.eq:
            return None
        try:
            return Q(**{column.field: uuid.UUID(value)})
        except ValueError:
            return _NOTHING  # not an id vahva ever gives out: matches nobody
    if op == CompareOperator.eq and column.equal is not None:
        return column.equal(value)
    lookup = _TEXT_LOOKUPS[op]
    if not column.case_exact:
        lookup = f"i{lookup}"
    return Q(**{f"{column.field}__{lookup}": value})


def exact(node: FilterNode, columns: dict[str, Column]) -> Q | None:
    """The filter as SQL, or None when some part of it has no column."""
    if isinstance(node, Comparison):
        return _comparison(node, columns)
    if isinstance(node, Present):
        column = _column(node.attr_path, columns)
        if column is None:
            return None
        found = Q(**{f"{column.field}__isnull": False})
        return found & ~Q(**{column.field: ""}) if column.kind == "text" else found
    if isinstance(node, LogicalExpr):
        parts = [exact(term, columns) for term in node.terms]
        if any(part is None for part in parts):
            return None
        combined = parts[0]
        for part in parts[1:]:
            assert combined is not None
            assert part is not None
            combined = combined & part if node.op == LogicalOperator.and_ else combined | part
        return combined
    if isinstance(node, Not):
        inner = exact(node.expr, columns)
        # NOT over a column that may be NULL is not SQL's NOT: leave it to the evaluator.
        return ~inner if inner is not None and _never_null(node.expr, columns) else None
    return None


def _never_null(node: FilterNode, columns: dict[str, Column]) -> bool:
    if isinstance(node, Comparison | Present):
        column = _column(node.attr_path, columns)
        return column is not None and column.not_null
    if isinstance(node, LogicalExpr):
        return all(_never_null(term, columns) for term in node.terms)
    if isinstance(node, Not):
        return _never_null(node.expr, columns)
    return False


def prefilter(node: FilterNode, columns: dict[str, Column]) -> Q:
    """A condition every match meets (the SQL parts of a top-level ``and``), maybe more."""
    whole = exact(node, columns)
    if whole is not None:
        return whole
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        found = Q()
        for term in node.terms:
            found &= prefilter(term, columns)
        return found
    return Q()
