"""Masked forms of personal data, for every place it is shown."""


def mask_id_number(value: str) -> str:
    """`110105194912310021` → `110***********0021`."""
    if not value:
        return ""
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """`张三明` → `张*明`, `张三` → `张*`; Latin names keep their first letter of each word."""
    if not value:
        return ""
    if " " in value.strip():
        return " ".join(part[0] + "*" * (len(part) - 1) for part in value.split())
    if len(value) == 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str) -> str:
    """`13812345678` → `138****5678`."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
