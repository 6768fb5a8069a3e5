"""A JSON Schema subset compiled to closures (no generated code): what postconditions need.

Supported: type, enum, const, required, properties, additionalProperties (bool), items,
minItems, maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
pattern, anyOf, allOf, not.
"""

from collections.abc import Callable
from typing import Any

from apps.contracts.engine.errors import ContractError
from apps.core.documents import PatternError, compile_pattern

Check = Callable[[Any], str | None]  # returns a message naming the failing path, or None
# A check binds its operands as default arguments, so its signature is (value, *bound) -> str | None.
_Bound = Callable[..., str | None]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compile_schema(schema: Any, *, contract: str, field: str, line: int | None) -> Check:
    def err(message: str) -> ContractError:
        return ContractError(message, contract=contract, field=field, line=line)

    def build(s: Any, path: str) -> Check:
        if s is True or s == {}:
            return lambda v: None
        if not isinstance(s, dict):
            raise err(f"schema at {path or '/'} must be a mapping")
        checks: list[_Bound] = []
        for key, arg in s.items():
            if key == "type":
                names = arg if isinstance(arg, list) else [arg]
                unknown = [n for n in names if n not in _TYPES]
                if unknown:
                    raise err(f"unknown type {unknown[0]!r} at {path or '/'}")
                fns = [_TYPES[n] for n in names]
                checks.append(lambda v, f=fns, n=names, p=path: None if any(x(v) for x in f)
                              else f"{p or '/'}: expected {' or '.join(n)}")
            elif key == "enum":
                checks.append(lambda v, a=list(arg), p=path: None if v in a else f"{p or '/'}: not one of {a}")
            elif key == "const":
                checks.append(lambda v, a=arg, p=path: None if v == a else f"{p or '/'}: must be {a!r}")
            elif key == "required":
                checks.append(lambda v, a=list(arg), p=path: next(
                    (f"{p}/{k}: required" for k in a if isinstance(v, dict) and k not in v), None))
            elif key == "properties":
                props = {k: build(sub, f"{path}/{k}") for k, sub in arg.items()}
                checks.append(lambda v, pr=props: next(
                    (m for k, c in pr.items() if isinstance(v, dict) and k in v for m in [c(v[k])] if m), None))
            elif key == "additionalProperties":
                if arg is False:
                    allowed = set((s.get("properties") or {}).keys())
                    checks.append(lambda v, a=allowed, p=path: next(
                        (f"{p}/{k}: not allowed" for k in (v if isinstance(v, dict) else ()) if k not in a), None))
            elif key == "items":
                item = build(arg, f"{path}/*")
                checks.append(lambda v, c=item: next(
                    (m for x in (v if isinstance(v, list) else ()) for m in [c(x)] if m), None))
            elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if not _num(arg):
                    raise err(f"{key} at {path or '/'} must be a number")
                op = {"minimum": float.__ge__, "maximum": float.__le__,
                      "exclusiveMinimum": float.__gt__, "exclusiveMaximum": float.__lt__}[key]
                checks.append(lambda v, o=op, a=float(arg), k=key, p=path: None if not _num(v) or o(float(v), a)
                              else f"{p or '/'}: {v} violates {k} {a:g}")
            elif key in ("minLength", "maxLength", "minItems", "maxItems"):
                low = key.startswith("min")
                kind = str if key.endswith("Length") else list
                checks.append(lambda v, a=int(arg), lo=low, t=kind, k=key, p=path: None
                              if not isinstance(v, t) or (len(v) >= a if lo else len(v) <= a)
                              else f"{p or '/'}: violates {k} {a}")
            elif key == "pattern":
                try:
                    rx = compile_pattern(arg)
                except PatternError as exc:
                    raise err(f"invalid pattern at {path or '/'}: {exc}") from None
                checks.append(lambda v, r=rx, a=arg, p=path: None if not isinstance(v, str) or r.search(v)
                              else f"{p or '/'}: does not match {a!r}")
            elif key in ("anyOf", "allOf"):
                subs = [build(x, path) for x in arg]
                if key == "anyOf":
                    checks.append(lambda v, ss=subs, p=path: None if any(c(v) is None for c in ss)
                                  else f"{p or '/'}: matches none of anyOf")
                else:
                    checks.append(lambda v, ss=subs: next((m for c in ss for m in [c(v)] if m), None))
            elif key == "not":
                sub = build(arg, path)
                checks.append(lambda v, c=sub, p=path: f"{p or '/'}: matches 'not'" if c(v) is None else None)
            elif key in ("title", "description", "$comment", "default", "examples"):
                continue
            else:
                raise err(f"unsupported schema keyword {key!r} at {path or '/'}")

        def check(v: Any) -> str | None:
            for c in checks:
                m = c(v)
                if m:
                    return m
            return None

        return check

    return build(schema, "")
