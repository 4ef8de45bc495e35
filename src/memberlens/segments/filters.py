"""The cohort filter language: parsed with a grammar, checked against an allow-list, compiled to Ibis.

A filter is a condition over one table's columns, e.g. the default cohort's::

    marketing_to_sales_days between 10 and 20 and sales_to_support_days > 30
    and composite_engagement_score > mean(composite_engagement_score)

What it may contain, and nothing else:

* column names (``"quoted"`` or `````back-quoted````` when they hold spaces or keywords), numbers,
  ``'text'`` (a quote inside doubled: ``'O''Brien'``), ``true``/``false``;
* arithmetic ``+ - * /`` on numbers (a division by zero is null, on every engine);
* comparisons ``= == != <> < <= > >=``, ``[not] between A and B``, ``[not] in (v, ...)``,
  ``is [not] null``; a boolean column on its own is a condition;
* ``and``, ``or``, ``not`` and parentheses (keywords in any case);
* the aggregates ``mean(col)`` (``avg``), ``median(col)``, ``min(col)``, ``max(col)`` and
  ``quantile(col, 0.9)``, each evaluated once over the whole table before the filter is applied
  and bound as a literal (no correlated subquery, so every engine runs the same plain filter).

The text is parsed by a LALR grammar (:mod:`lark`) into a small tree of the node classes below;
anything the grammar does not accept (``;``, ``--``, function calls outside the list, subqueries,
statements) is refused with a :class:`FilterError` — a :class:`~memberlens.errors.ConfigError`
that names the offending part, its position, and the columns there are. The filter never
becomes SQL text: it is compiled to an Ibis expression of column references and literals, and
Ibis writes the query. Null follows SQL: a comparison with a null is unknown, and a row whose
condition is unknown is not in the cohort.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from memberlens.errors import ConfigError
from memberlens.metrics._arith import ratio

MAX_LENGTH = 4000  # characters of filter text
MAX_DEPTH = 60  # nesting of the parsed tree: a chain of one ``and``/``or`` is one level
AGGREGATES = ("mean", "avg", "median", "min", "max", "quantile")

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | and_expr (_OR and_expr)+              -> or_
?and_expr: not_expr
         | not_expr (_AND not_expr)+            -> and_
?not_expr: predicate
         | _NOT not_expr                        -> not_
?predicate: sum
          | sum COMP sum                        -> compare
          | sum _BETWEEN sum _AND sum           -> between
          | sum _NOT _BETWEEN sum _AND sum      -> not_between
          | sum _IN "(" values ")"              -> in_
          | sum _NOT _IN "(" values ")"         -> not_in
          | sum _IS _NULL                       -> is_null
          | sum _IS _NOT _NULL                  -> is_not_null
?sum: product
    | sum ADD product                           -> arith
?product: unary
        | product MUL unary                     -> arith
?unary: atom
      | ADD unary                               -> signed
?atom: NUMBER                                   -> number
     | STRING                                   -> text
     | _TRUE                                    -> true
     | _FALSE                                   -> false
     | name
     | NAME "(" [sum ("," sum)*] ")"            -> call
     | "(" or_expr ")"
name: NAME | QUOTED | BACKQUOTED
values: sum ("," sum)*

_OR.3: /or\b/i
_AND.3: /and\b/i
_NOT.3: /not\b/i
_BETWEEN.3: /between\b/i
_IN.3: /in\b/i
_IS.3: /is\b/i
_NULL.3: /null\b/i
_TRUE.3: /true\b/i
_FALSE.3: /false\b/i
NAME: /[^\W\d]\w*/
QUOTED: /"(?:[^"]|"")+"/
BACKQUOTED: /`(?:[^`]|``)+`/
STRING: /'(?:[^']|'')*'/
NUMBER.2: /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/
COMP: /==|!=|<>|<=|>=|=|<|>/
ADD: /[+-]/
MUL: /[*\/]/
%ignore /\s+/
"""


# -- the tree ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """Where a node is in the filter text: ``text[start:end]``."""

    start: int
    end: int


@dataclass(frozen=True)
class Column:
    name: str
    span: Span


@dataclass(frozen=True)
class Literal:
    value: float | int | str | bool
    span: Span


@dataclass(frozen=True)
class Aggregate:
    """``func(column)`` or ``quantile(column, q)`` over the whole table."""

    func: str
    column: Column
    q: float | None
    span: Span

    @property
    def text(self) -> str:
        func = "mean" if self.func == "avg" else self.func
        return f"{func}({self.column.name}, {self.q:g})" if self.q is not None else f"{func}({self.column.name})"


@dataclass(frozen=True)
class Arith:
    op: str
    left: Node
    right: Node
    span: Span


@dataclass(frozen=True)
class Negate:
    operand: Node
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    span: Span


@dataclass(frozen=True)
class Between:
    operand: Node
    low: Node
    high: Node
    negated: bool
    span: Span


@dataclass(frozen=True)
class InList:
    operand: Node
    values: tuple[Node, ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class IsNull:
    operand: Node
    negated: bool
    span: Span


@dataclass(frozen=True)
class Logical:
    """``and`` / ``or`` of two or more conditions: ``a or b or c`` is one node of three operands."""

    op: str
    operands: tuple[Node, ...]
    span: Span


@dataclass(frozen=True)
class Not:
    operand: Node
    span: Span


Node = Column | Literal | Aggregate | Arith | Negate | Compare | Between | InList | IsNull | Logical | Not


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its text and tree, and the population aggregates it refers to."""

    text: str
    tree: Node

    @property
    def aggregates(self) -> list[Aggregate]:
        """The distinct aggregate references, in order of first appearance."""
        seen: dict[str, Aggregate] = {}
        for node in walk(self.tree):
            if isinstance(node, Aggregate):
                seen.setdefault(node.text, node)
        return list(seen.values())

    @property
    def columns(self) -> list[str]:
        """The columns the filter reads, in order of first appearance."""
        names: dict[str, None] = {}
        for node in walk(self.tree):
            if isinstance(node, Column):
                names.setdefault(node.name, None)
        return list(names)


def walk(tree: Node) -> list[Node]:
    """Every node of ``tree``, parents before children (iterative: depth is bounded anyway)."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(_children(node)))
    return out


def _children(node: Node) -> list[Node]:
    """The nodes directly under ``node``, left to right."""
    if isinstance(node, (Arith, Compare)):
        return [node.left, node.right]
    if isinstance(node, Logical):
        return list(node.operands)
    if isinstance(node, (Negate, Not, IsNull)):
        return [node.operand]
    if isinstance(node, Between):
        return [node.operand, node.low, node.high]
    if isinstance(node, InList):
        return [node.operand, *node.values]
    if isinstance(node, Aggregate):
        return [node.column]
    return []


# -- errors ------------------------------------------------------------------------------------
class FilterError(ConfigError):
    """A filter that cannot be used: the message names the part at fault and where it is.

    ``position`` is the 0-based offset of the offending part in ``text`` and ``length`` its
    length; :attr:`caret` shows it underlined.
    """

    def __init__(self, problem: str, text: str, position: int, length: int = 1, hint: str | None = None) -> None:
        self.problem, self.text = problem, text
        self.position = max(0, min(position, len(text)))
        self.length = max(1, length)
        part = text[self.position : self.position + self.length]
        where = f"at column {self.position + 1}" + (f" ({_excerpt(part)})" if part.strip() else "")
        super().__init__(f"filter: {problem} {where} in {_excerpt(text, 120)}", hint)

    @property
    def caret(self) -> str:
        """The filter's line with ``^^^`` under the offending part."""
        line_start = self.text.rfind("\n", 0, self.position) + 1
        line_end = self.text.find("\n", self.position)
        line = self.text[line_start : line_end if line_end >= 0 else None]
        offset = self.position - line_start
        return f"{line}\n{' ' * offset}{'^' * min(self.length, max(1, len(line) - offset))}"


def _excerpt(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def columns_hint(columns: list[str], wrong: str | None = None) -> str:
    close = difflib.get_close_matches(wrong, columns, n=3, cutoff=0.6) if wrong else []
    listing = ", ".join(columns) if len(columns) <= 40 else ", ".join(columns[:40]) + f", … ({len(columns)} in all)"
    return (f"did you mean {', '.join(close)}? " if close else "") + f"columns: {listing}"


# -- parsing -----------------------------------------------------------------------------------
@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)


_TOKEN_WORDS = {
    "_OR": "or",
    "_AND": "and",
    "_NOT": "not",
    "_BETWEEN": "between",
    "_IN": "in",
    "_IS": "is",
    "_NULL": "null",
    "_TRUE": "true",
    "_FALSE": "false",
    "NAME": "a column",
    "QUOTED": "a column",
    "BACKQUOTED": "a column",
    "STRING": "'text'",
    "NUMBER": "a number",
    "COMP": "a comparison (= < > ...)",
    "ADD": "+ or -",
    "MUL": "* or /",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "$END": "the end",
}


def parse_filter(text: str) -> Filter:
    """Parse ``text`` into a :class:`Filter` (syntax only; columns are checked by
    :func:`compile_filter`). Raises :class:`FilterError` on anything outside the language."""
    if not isinstance(text, str):
        raise ConfigError(f"filter: expected text, got {type(text).__name__}", "e.g. --where \"region = 'London'\"")
    if not text.strip():
        raise FilterError("the filter is empty", text, 0, hint='e.g. --where "sales_to_support_days > 30"')
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_LENGTH:,} characters", text, MAX_LENGTH)
    if "\x00" in text:
        raise FilterError("the filter contains a NUL character", text, text.index("\x00"))
    try:
        parsed = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except LarkError as exc:  # pragma: no cover - lark raises UnexpectedInput for bad input
        raise FilterError(f"cannot be parsed ({type(exc).__name__})", text, 0) from None
    _check_depth(parsed, text)
    try:
        tree = _ToNodes(text).transform(parsed)
    except VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise
    return Filter(text, tree)


def _syntax_error(exc: UnexpectedInput, text: str) -> FilterError:
    position = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    if isinstance(exc, UnexpectedCharacters):
        char = text[position] if position < len(text) else ""
        hint = "text values go in single quotes: 'London'" if char == '"' else _SYNTAX_HINT
        return FilterError(f"unexpected character {char!r}", text, position, hint=hint)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        expected = _expected_words(getattr(exc, "expected", None) or getattr(exc, "accepts", None) or [])
        return FilterError(f"the filter ends too early; expected {expected}", text, len(text), hint=_SYNTAX_HINT)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected = _expected_words(exc.accepts or exc.expected)
    length = len(str(token)) or 1
    if token.type == "_NULL":
        hint = "test for a missing value with: COLUMN is null"
    elif token.type == "STRING" and str(token).endswith("'") is False:
        hint = "a text value needs a closing quote"
    else:
        hint = _SYNTAX_HINT
    return FilterError(f"unexpected {str(token)!r}; expected {expected}", text, token.start_pos or 0, length, hint)


_SYNTAX_HINT = (
    "a filter compares columns: e.g. tier in ('Gold', 'Platinum') and score > mean(score); "
    "allowed: = != < <= > >= between in is null and or not + - * / and mean, median, min, max, quantile"
)


def _expected_words(names) -> str:
    words = sorted({_TOKEN_WORDS.get(n, n.lower()) for n in names if not n.startswith("__")})
    return " or ".join(words) if len(words) <= 6 else ", ".join(words[:6]) + ", …"


def _check_depth(parsed, text: str) -> None:
    """Refuse a parse tree deeper than :data:`MAX_DEPTH`; returns nothing.

    Runs before lark's (recursive) transformer, which therefore never goes deeper than this.
    ``and``/``or`` chains are flat in the grammar, so ``a or b or c`` is one level however many
    terms it has; a parenthesised ``and``/``or`` inside another (``a or (b or c)``), ``not``,
    comparisons and each arithmetic operator add a level. Parentheses around one term add none."""
    stack = [(parsed, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            start = (
                getattr(getattr(node, "meta", None), "start_pos", 0) if not isinstance(node, Token) else node.start_pos
            )
            raise FilterError(f"the filter is nested more than {MAX_DEPTH} levels deep", text, start or 0)
        for child in getattr(node, "children", []):
            stack.append((child, depth + 1))


def _span(meta_or_token) -> Span:
    if isinstance(meta_or_token, Token):
        return Span(meta_or_token.start_pos, meta_or_token.end_pos)
    return Span(meta_or_token.start_pos, meta_or_token.end_pos)


def _unquote(token: Token) -> str:
    value = str(token)
    if token.type == "QUOTED":
        return value[1:-1].replace('""', '"')
    if token.type == "BACKQUOTED":
        return value[1:-1].replace("``", "`")
    return value


@v_args(meta=True)
class _ToNodes(Transformer):
    """lark's parse tree -> the node classes above; unknown function names are refused here."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def number(self, meta, children):
        token = children[0]
        raw = str(token)
        value: float | int = int(raw) if raw.isdigit() and int(raw) < 2**63 else float(raw)
        return Literal(value, _span(token))

    def text(self, meta, children):
        token = children[0]
        return Literal(str(token)[1:-1].replace("''", "'"), _span(token))

    def true(self, meta, children):
        return Literal(True, _span(meta))

    def false(self, meta, children):
        return Literal(False, _span(meta))

    def name(self, meta, children):
        token = children[0]
        return Column(_unquote(token), _span(token))

    def signed(self, meta, children):
        sign, operand = children
        if str(sign) == "+":
            return operand
        if (
            isinstance(operand, Literal)
            and isinstance(operand.value, (int, float))
            and not isinstance(operand.value, bool)
        ):
            return Literal(-operand.value, _span(meta))
        return Negate(operand, _span(meta))

    def arith(self, meta, children):
        left, op, right = children
        return Arith(str(op), left, right, _span(meta))

    def compare(self, meta, children):
        left, op, right = children
        op = {"==": "=", "<>": "!="}.get(str(op), str(op))
        return Compare(op, left, right, _span(meta))

    def between(self, meta, children):
        return Between(*children, negated=False, span=_span(meta))

    def not_between(self, meta, children):
        return Between(*children, negated=True, span=_span(meta))

    def values(self, meta, children):
        return tuple(children)

    def in_(self, meta, children):
        return InList(children[0], children[1], negated=False, span=_span(meta))

    def not_in(self, meta, children):
        return InList(children[0], children[1], negated=True, span=_span(meta))

    def is_null(self, meta, children):
        return IsNull(children[0], negated=False, span=_span(meta))

    def is_not_null(self, meta, children):
        return IsNull(children[0], negated=True, span=_span(meta))

    def and_(self, meta, children):
        return Logical("and", tuple(children), _span(meta))

    def or_(self, meta, children):
        return Logical("or", tuple(children), _span(meta))

    def not_(self, meta, children):
        return Not(children[0], _span(meta))

    def call(self, meta, children):
        token, args = children[0], [a for a in children[1:] if a is not None]
        func = str(token).lower()
        span = _span(meta)
        if func not in AGGREGATES:
            raise FilterError(
                f"function {str(token)!r} is not allowed",
                self.source,
                token.start_pos,
                len(str(token)),
                hint=f"the filter may call only {', '.join(AGGREGATES)} — each of one column, over the whole table",
            )
        wanted = 2 if func == "quantile" else 1
        if len(args) != wanted or not isinstance(args[0], Column):
            usage = "quantile(column, 0.9)" if func == "quantile" else f"{func}(column)"
            raise FilterError(
                f"{func} takes {'a column and a fraction' if wanted == 2 else 'one column'}",
                self.source,
                span.start,
                span.end - span.start,
                hint=f"write {usage}",
            )
        q = None
        if func == "quantile":
            fraction = args[1]
            if not (
                isinstance(fraction, Literal)
                and isinstance(fraction.value, (int, float))
                and not isinstance(fraction.value, bool)
                and 0 <= fraction.value <= 1
            ):
                part = getattr(fraction, "span", span)
                raise FilterError(
                    "quantile's fraction must be a number from 0 to 1",
                    self.source,
                    part.start,
                    part.end - part.start,
                    hint="e.g. quantile(estimated_customer_ltv, 0.9)",
                )
            q = float(fraction.value)
        return Aggregate(func, args[0], q, span)


# -- compiling ---------------------------------------------------------------------------------
NUMBER, TEXT, BOOL, TIME = "number", "text", "true/false", "date/time"


def visible_columns(table: ir.Table) -> list[str]:
    """The columns a user sees: internal bookkeeping columns (``_source``, ``_row``) are hidden."""
    return [name for name in table.columns if not name.startswith("_")]


def _kind_of(dtype) -> str | None:
    if dtype.is_boolean():
        return BOOL
    if dtype.is_numeric():
        return NUMBER
    if dtype.is_string():
        return TEXT
    if dtype.is_temporal() and (dtype.is_date() or dtype.is_timestamp()):
        return TIME
    return None


@dataclass(frozen=True)
class CompiledFilter:
    """A filter bound to one table: the Ibis condition and the population aggregates it used."""

    filter: Filter
    condition: ir.BooleanValue
    aggregates: dict[str, float | None]

    @property
    def text(self) -> str:
        return self.filter.text


def compile_filter(table: ir.Table, where: str | Filter) -> CompiledFilter:
    """``where`` as an Ibis boolean expression over ``table``.

    Aggregate references are computed first, in one query over the whole table, and bound as
    literals. Raises :class:`FilterError` for unknown or hidden columns, type mismatches
    (text compared with a number) and a filter that is not a condition.
    """
    parsed = where if isinstance(where, Filter) else parse_filter(where)
    compiler = _Compiler(table, parsed.text)
    for node in walk(parsed.tree):  # every column known before any query runs
        if isinstance(node, Column):
            compiler.column(node)
    aggregates = compiler.evaluate_aggregates(parsed.aggregates)
    expr, kind = compiler.compile(parsed.tree)
    if kind != BOOL:
        raise FilterError(
            f"the filter is a {kind}, not a condition",
            parsed.text,
            0,
            len(parsed.text),
            hint="compare it with something, e.g. ... > 10",
        )
    return CompiledFilter(parsed, expr, aggregates)


class _Compiler:
    def __init__(self, table: ir.Table, text: str) -> None:
        self.table, self.text = table, text
        self.schema = table.schema()
        self.visible = visible_columns(table)
        self.bound: dict[str, ir.Value] = {}

    def fail(self, problem: str, node: Node, hint: str | None = None) -> FilterError:
        return FilterError(problem, self.text, node.span.start, node.span.end - node.span.start, hint)

    def column(self, node: Column) -> tuple[ir.Value, str]:
        if node.name not in self.visible:
            quoted = self.text[node.span.start : node.span.start + 1] == '"'
            hint = columns_hint(self.visible, node.name)
            raise self.fail(
                f"unknown column {node.name!r}",
                node,
                f"text values go in single quotes ('{node.name}'); {hint}" if quoted else hint,
            )
        kind = _kind_of(self.schema[node.name])
        if kind is None:
            raise self.fail(
                f"column {node.name!r} holds {self.schema[node.name]}, which a filter cannot use",
                node,
                columns_hint([c for c in self.visible if _kind_of(self.schema[c])]),
            )
        return self.table[node.name], kind

    def evaluate_aggregates(self, aggregates: list[Aggregate]) -> dict[str, float | None]:
        if not aggregates:
            return {}
        measures = {}
        for i, node in enumerate(aggregates):
            value, kind = self.column(node.column)
            if kind != NUMBER:
                raise self.fail(f"{node.func} needs a numeric column; {node.column.name!r} is {kind}", node.column)
            measures[f"a{i}"] = _aggregate_expr(node, value)
        row = self.table.aggregate(**measures).execute().iloc[0]
        values = {}
        for i, node in enumerate(aggregates):
            value = row[f"a{i}"]
            values[node.text] = None if value is None or value != value else float(value)
            self.bound[node.text] = ibis.literal(values[node.text], type="float64")
        return values

    def compile(self, node: Node) -> tuple[ir.Value, str]:
        if isinstance(node, Column):
            return self.column(node)
        if isinstance(node, Literal):
            return _literal(node.value), _literal_kind(node.value)
        if isinstance(node, Aggregate):
            return self.bound[node.text], NUMBER
        if isinstance(node, Negate):
            value = self.numeric(node.operand, "-")
            return -value, NUMBER
        if isinstance(node, Arith):
            left, right = self.numeric(node.left, node.op), self.numeric(node.right, node.op)
            if node.op == "/":
                return ratio(left, right), NUMBER
            return {"+": left + right, "-": left - right, "*": left * right}[node.op], NUMBER
        if isinstance(node, Compare):
            left, right = self.comparable(node.left, node.right, node)
            if left[1] == BOOL and node.op not in ("=", "!="):
                raise self.fail(f"true/false values can only be compared with = or !=, not {node.op}", node)
            return _COMPARE[node.op](left[0], right[0]), BOOL
        if isinstance(node, Between):
            (value, kind), (low, _) = self.comparable(node.operand, node.low, node)
            _, (high, _) = self.comparable(node.operand, node.high, node)
            if kind == BOOL:
                raise self.fail("between needs numbers, text or dates, not true/false", node)
            inside = (value >= low) & (value <= high)
            return (~inside if node.negated else inside), BOOL
        if isinstance(node, InList):
            value, kind = self.compile(node.operand)
            options = []
            for item in node.values:
                if not isinstance(item, Literal):
                    raise self.fail(
                        "in (...) takes values, not columns or expressions",
                        item,
                        "e.g. customer_tier in ('Gold', 'Platinum')",
                    )
                options.append(self.coerce(item, kind, node.operand))
            member = value.isin(options)
            return (value.notin(options) if node.negated else member), BOOL
        if isinstance(node, IsNull):
            value, _ = self.compile(node.operand)
            return (value.notnull() if node.negated else value.isnull()), BOOL
        if isinstance(node, Logical):
            conditions = [self.condition(operand, node.op) for operand in node.operands]
            return _balanced(conditions, node.op), BOOL
        if isinstance(node, Not):
            return ~self.condition(node.operand, "not"), BOOL
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the grammar makes no others

    def numeric(self, node: Node, op: str) -> ir.NumericValue:
        value, kind = self.compile(node)
        if kind != NUMBER:
            raise self.fail(f"{op} needs numbers; {_describe(node, self.text)} is {kind}", node)
        return value

    def condition(self, node: Node, op: str) -> ir.BooleanValue:
        value, kind = self.compile(node)
        if kind != BOOL:
            raise self.fail(
                f"{op} joins conditions; {_describe(node, self.text)} is a {kind}",
                node,
                "compare it with something, e.g. ... > 10",
            )
        return value

    def comparable(self, left: Node, right: Node, whole: Node) -> tuple[tuple[ir.Value, str], tuple[ir.Value, str]]:
        """Both sides compiled; a text literal beside a date column becomes a date."""
        a, b = self.compile(left), self.compile(right)
        if a[1] == TIME and isinstance(right, Literal) and isinstance(right.value, str):
            b = (self.coerce(right, TIME, left), TIME)
        if b[1] == TIME and isinstance(left, Literal) and isinstance(left.value, str):
            a = (self.coerce(left, TIME, right), TIME)
        if a[1] != b[1]:
            raise self.fail(
                f"cannot compare {_describe(left, self.text)} ({a[1]}) with {_describe(right, self.text)} ({b[1]})",
                whole,
                "text values go in single quotes; numbers without",
            )
        return a, b

    def coerce(self, item: Literal, kind: str, operand: Node) -> Any:
        """A literal as a value of ``kind`` (the kind of the column it is matched against)."""
        value = item.value
        if kind == TIME and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(f"{value!r} is not a date", item, "write dates as 'YYYY-MM-DD'") from None
            return ibis.literal(parsed if (parsed.hour, parsed.minute, parsed.second) != (0, 0, 0) else parsed.date())
        if _literal_kind(value) != kind:
            raise self.fail(
                f"{_describe(item, self.text)} is {_literal_kind(value)}, but "
                f"{_describe(operand, self.text)} is {kind}",
                item,
                "text values go in single quotes; numbers without",
            )
        return _literal(value)


def _balanced(conditions: list[ir.BooleanValue], op: str) -> ir.BooleanValue:
    """The conditions joined by ``op`` as a balanced tree (depth ~log2 n, not n), so a long
    chain cannot reach a recursion limit when Ibis and sqlglot compile it. ``and``/``or`` are
    associative under SQL's three-valued logic too, so the grouping does not change the result."""
    join = (lambda a, b: a & b) if op == "and" else (lambda a, b: a | b)
    while len(conditions) > 1:
        pairs = [join(a, b) for a, b in zip(conditions[::2], conditions[1::2])]
        conditions = pairs + conditions[len(pairs) * 2 :]
    return conditions[0]


def _aggregate_expr(node: Aggregate, value: ir.NumericValue) -> ir.Scalar:
    func = "mean" if node.func == "avg" else node.func
    if func == "quantile":
        return value.quantile(node.q)
    return getattr(value, func)()


def _literal(value: float | int | str | bool) -> ir.Value:
    if isinstance(value, bool):
        return ibis.literal(value, type="boolean")
    if isinstance(value, int):
        return ibis.literal(value, type="int64")
    if isinstance(value, float):
        return ibis.literal(value, type="float64")
    return ibis.literal(value, type="string")


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, (date, datetime)):
        return TIME
    return TEXT


def _describe(node: Node, text: str) -> str:
    return repr(text[node.span.start : node.span.end])


_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
