"""Phone masking of what the pages show: the ingestion's one implementation
(pipelines.ingest.mask), applied to every text column of a frame."""

from __future__ import annotations

import pandas as pd

from pipelines.ingest.mask import mask_text


def mask_phones(text: object) -> object:
    """Mask phone numbers left in a text (upstream already should); other values as they are."""
    return mask_text(text) if isinstance(text, str) else text


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with phone numbers masked in every text column."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_phones)
    return out
