"""The JSON response every error of ours is rendered with, apart from the modules that send it:
the HTTP plumbing (`eci_common.http`) and the request guard (`eci_common.request_guard`) both use
it, and neither needs the other for it."""

import json
import math
from typing import Any

from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    """JSON that renders whatever an error echoes of the caller's input. A JSON string may
    escape a lone surrogate (`"\\ud800"`), which has no UTF-8 form: the plain `JSONResponse`
    fails on it and the 422 becomes a 500. Such a character is sent as `?`. A non-finite number
    (which the request guard already refuses) is sent as its name in a string."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            _finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
        return text.encode("utf-8", errors="replace")


def _finite(content: Any) -> Any:
    if isinstance(content, float) and not math.isfinite(content):
        return str(content)
    if isinstance(content, dict):
        return {key: _finite(value) for key, value in content.items()}
    if isinstance(content, list | tuple):
        return [_finite(item) for item in content]
    return content
