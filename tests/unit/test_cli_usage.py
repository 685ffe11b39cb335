"""Usage errors point to the right help command, without the program name doubled."""

from __future__ import annotations

import pytest

from builder.__main__ import main


@pytest.mark.parametrize(("argv", "hint"), [([], "`python -m builder --help`"),
                                            (["train"], "`python -m builder train --help`")])
def test_usage_errors_name_the_help_command(argv, hint, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and err.endswith(f"(see {hint})"), err
    assert "builder builder" not in err
