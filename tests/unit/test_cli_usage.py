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


def test_spec_without_preset_prints_what_train_uses(capsys) -> None:
    """`spec` with no --preset is the spec `train` with no --preset trains (the default task's default
    preset), so benches and users who start from it measure the real default."""
    import json

    from builder import ModelSpec
    from builder.__main__ import _parser, build_spec

    assert main(["spec"]) == 0
    printed = json.loads(capsys.readouterr().out)
    trained = json.loads(build_spec(_parser().parse_args(["train", "--data", "x.csv", "--out", "r"])).to_json())
    assert printed == trained
    assert printed != json.loads(ModelSpec().to_json()), "the default preset differs from ModelSpec()"
