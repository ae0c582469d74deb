"""What a window may not be (config and API share the model): each refusal names it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.maintenance.config import MaintenanceConfig, WindowSpec

OK: dict[str, Any] = {"matchers": ['service="db"'], "reason": "r", "created_by": "me",
                      "rrule": "FREQ=WEEKLY;BYDAY=SA;BYHOUR=2", "duration": "2h",
                      "timezone": "Europe/Berlin"}  # fmt: skip


def refused(**change: Any) -> str:
    data = {**OK, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ValidationError) as e:
        WindowSpec.model_validate(data)
    return str(e.value)


def test_a_good_window_is_taken() -> None:
    w = WindowSpec.model_validate(OK)
    assert w.matches({"service": "db"}) and not w.matches({"service": "web"})


@pytest.mark.parametrize(("change", "says"), [
    ({"rrule": "FREQ=SOMETIMES"}, "malformed"),
    ({"rrule": "BYDAY=SA"}, "malformed"),
    ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "malformed"),
    ({"rrule": "FREQ=MINUTELY"}, "more often than hourly"),
    ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "never occurs"),
    ({"rrule": "FREQ=DAILY", "duration": "25h"}, "longer than the rule's shortest interval"),
    ({"rrule": "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=2", "duration": "1d1h"}, "shortest interval"),
    ({"matchers": []}, "at least one matcher"),
    ({"matchers": ["service"]}, "bad matcher"),
    ({"all": True}, "not both"),
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"duration": None}, "non-zero `duration`"),
    ({"rrule": None, "duration": None, "from": "2026-12-08T10:00:00Z",
      "until": "2026-12-08T09:00:00Z"}, "`until` must be after `from`"),
    ({"rrule": None, "duration": None, "from": "2026-12-08T10:00:00Z"}, "both `from`"),
    ({"from": "2026-12-08T10:00:00Z", "until": "2026-12-08T11:00:00Z"}, "not both"),
    ({"colour": "red"}, "Extra inputs"),
])  # fmt: skip
def test_bad_windows_are_refused_with_the_reason(change: dict[str, Any], says: str) -> None:
    assert says in refused(**change)


def test_names_and_digests_are_checked() -> None:
    with pytest.raises(ValidationError, match="window name"):
        MaintenanceConfig.model_validate({"windows": {"no spaces": OK}})
    cfg = MaintenanceConfig.model_validate({"windows": {"a": {**OK, "digest": "nope"}}})
    assert cfg.issues({"nightly"}, False) == [(("maintenance", "windows", "a", "digest"),
                                        'undefined digest "nope" (defined: nightly)')]  # fmt: skip


def test_a_time_without_offset_is_wall_time_in_the_window_zone() -> None:
    w = WindowSpec.model_validate({"all": True, "from": "2026-07-01T10:00:00",
                                   "until": "2026-07-01T12:00:00",
                                   "timezone": "Europe/Berlin"})  # fmt: skip
    assert w.start_utc.isoformat() == "2026-07-01T08:00:00+00:00"
