"""Errors raised while compiling a contract. They name the contract, the field and the YAML line."""


class ContractError(ValueError):
    def __init__(self, message: str, *, contract: str = "", field: str = "", line: int | None = None):
        self.message = message
        self.contract = contract
        self.field = field
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.contract:
            where.append(f"contract '{self.contract}'")
        if self.field:
            where.append(f"field {self.field}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"contract": self.contract, "field": self.field, "line": self.line, "message": self.message}
