"""Errors raised while compiling a contract. They name the contract, the field and the YAML line."""

from apps.core.documents import DocumentError, Issue


class ContractError(DocumentError):
    """The first problem found: contracts stop at it, and its text names contract, field and line."""

    def __init__(self, message: str, *, contract: str = "", field: str = "", line: int | None = None):
        self.message = message
        self.contract = contract
        self.field = field
        self.line = line
        super().__init__([Issue(message, (field,) if field else (), line)])

    def __str__(self) -> str:
        where = []
        if self.contract:
            where.append(f"contract '{self.contract}'")
        if self.field:
            where.append(f"field {self.field}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, str | int | None]:
        return {"contract": self.contract, "field": self.field, "line": self.line, "message": self.message}
