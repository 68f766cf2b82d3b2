from enum import Enum


class ReferenceErrorCode(str, Enum):
    """Why a region or institution query, or a reference data import, was refused."""

    UNKNOWN_REGION = "unknown_region"
    INVALID = "invalid"
    # Imports (CSV files of institutions and catalogues)
    IMPORT_ROWS_INVALID = "import_rows_invalid"
    INVALID_ENCODING = "invalid_encoding"
    EMPTY_FILE = "empty_file"
    MISSING_COLUMNS = "missing_columns"
    DUPLICATE_CODE = "duplicate_code"
    # One row of an institution import
    INVALID_CODE = "invalid_code"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    INVALID_KIND = "invalid_kind"
    CODE_KIND_MISMATCH = "code_kind_mismatch"
    INVALID_LEVEL = "invalid_level"
    CODE_REGION_MISMATCH = "code_region_mismatch"
    INVALID_BOOLEAN = "invalid_boolean"
