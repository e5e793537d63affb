"""`hotline audio build|add|script` and `flows check` on a copy of the shipped flows, with the real
espeak-ng, sox and lame (CI installs them); files checked by their bytes, never by their names."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hotline.audio.formats import inspect_file
from hotline.audio.manifest import file_hash, read_manifest
from hotline.cli import main
from hotline.ivr.loader import load_flows

ROOT = Path(__file__).resolve().parents[2]
RESTART_KK = "Кешіріңіз, басынан бастайық."


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy (ivr_flows/ with no audio, config/) after one espeak-ng build."""
    project = tmp_path_factory.mktemp("built")
    flows = project / "ivr_flows"
    flows.mkdir()
    for name in ("default.yaml", "volunteer.yaml"):
        shutil.copy(ROOT / "ivr_flows" / name, flows / name)
    (project / "config").mkdir()
    shutil.copy(ROOT / "config" / "callback_prompts.yaml", project / "config")
    assert (
        main(["audio", "build", "--language", "kk", "--engine", "espeak-ng", "--flows", str(flows)])
        == 0
    )
    return flows


@pytest.fixture
def flows(built: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built project."""
    shutil.copytree(built.parent, tmp_path / "project")
    return tmp_path / "project" / "ivr_flows"


def kk(flows: Path) -> Path:
    return flows / "audio" / "kk"


def check(flows: Path, capsys, *extra: str) -> tuple[int, str]:
    status = main(["flows", "check", str(flows), *extra])
    out = capsys.readouterr()
    return status, out.out + out.err


def audio(flows: Path, *args: str) -> int:
    return main(["audio", *args, "--language", "kk", "--flows", str(flows)])


def edit_text(flows: Path, old: str, new: str) -> None:
    path = flows / "default.yaml"
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")


def a_recording(path: Path, seconds: str = "1.5") -> Path:
    """What a studio hands over: 44.1 kHz stereo WAV (sox makes a tone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "16",
            str(path),
            "synth",
            seconds,
            "sine",
            "440",
        ],
        check=True,
    )
    return path


def kazakh_audio_of(flows: Path, node: str) -> str | None:
    return load_flows(flows)["default"].nodes[node].prompt.texts["kk"].audio


def test_build_with_espeak_ng_gives_every_kazakh_prompt_phone_quality_audio(flows, capsys):
    status, output = check(flows, capsys, "--strict")

    assert status == 0, output
    assert "kk: 66 prompts: 0 recorded, 66 synthesized, 0 missing, 0 stale" in output
    entries = read_manifest(kk(flows))
    assert len(entries) == 66
    for name, entry in entries.items():
        info = inspect_file(kk(flows) / name)
        assert (info.container, info.sample_rate, info.channels) == ("mp3", 8000, 1), name
        assert entry.source == "synthesized" and entry.engine.startswith("espeak-ng")
    assert kazakh_audio_of(flows, "greeting") == "audio/kk/default.greeting.mp3"


def test_without_any_audio_the_strict_check_fails_and_names_every_missing_prompt(tmp_path, capsys):
    bare = tmp_path / "ivr_flows"
    bare.mkdir()
    shutil.copy(ROOT / "ivr_flows" / "default.yaml", bare)
    shutil.copy(ROOT / "ivr_flows" / "volunteer.yaml", bare)

    status, output = check(bare, capsys, "--strict")

    assert status == 1
    assert "kk: 52 prompts: 0 recorded, 0 synthesized, 52 missing, 0 stale" in output
    assert "kk missing: default.greeting (default / greeting, prompt)" in output
    assert check(bare, capsys)[0] == 0  # without --strict missing audio is reported, not fatal


def test_changing_a_prompts_text_makes_its_audio_stale_until_it_is_built_again(flows, capsys):
    edit_text(flows, RESTART_KK, "Кешіріңіз, мәзірді басынан бастайық.")

    status, output = check(flows, capsys, "--strict")
    assert status == 1
    assert "kk stale: default.restart" in output and "1 stale" in output
    # The old audio says the old text: it is not played, the Russian voice reads the new one.
    assert kazakh_audio_of(flows, "restart") is None

    assert audio(flows, "build", "--engine", "espeak-ng") == 0
    assert check(flows, capsys, "--strict")[0] == 0
    entry = read_manifest(kk(flows))["default.restart.mp3"]
    assert entry.text == "Кешіріңіз, мәзірді басынан бастайық."
    assert kazakh_audio_of(flows, "restart") == "audio/kk/default.restart.mp3"


def test_a_recording_is_never_replaced_by_a_synthesized_draft(flows, tmp_path, capsys):
    studio = a_recording(tmp_path / "default.restart.wav")
    assert audio(flows, "add", str(studio)) == 0
    recording = kk(flows) / "default.restart.mp3"
    info = inspect_file(recording)
    assert (info.sample_rate, info.channels) == (8000, 1)  # converted from 44.1 kHz stereo
    made = recording.read_bytes()
    assert read_manifest(kk(flows))["default.restart.mp3"].source == "recorded"

    assert audio(flows, "build", "--engine", "espeak-ng", "--redo-drafts") == 0
    assert recording.read_bytes() == made

    # The text changes: the recording is stale, kept as it is; a draft plays meanwhile.
    edit_text(flows, RESTART_KK, "Кешіріңіз, мәзірді басынан бастайық.")
    assert audio(flows, "build", "--engine", "espeak-ng") == 0
    assert "kept audio/kk/default.restart.mp3" in capsys.readouterr().out
    assert recording.read_bytes() == made
    assert kazakh_audio_of(flows, "restart") == "audio/kk/default.restart.draft.mp3"
    entries = read_manifest(kk(flows))
    assert entries["default.restart.mp3"].source == "recorded"
    assert entries["default.restart.draft.mp3"].source == "synthesized"

    # A new recording of the new text wins; the old one is kept in kept/, not deleted.
    assert audio(flows, "add", str(a_recording(tmp_path / "new" / "default.restart.wav", "2"))) == 0
    assert kazakh_audio_of(flows, "restart") == "audio/kk/default.restart.mp3"
    kept = list((kk(flows) / "kept").iterdir())
    assert [p.read_bytes() for p in kept] == [made]
    assert "default.restart.draft.mp3" not in read_manifest(kk(flows))
    assert check(flows, capsys, "--strict")[0] == 0


def test_a_recording_of_the_current_text_is_replaced_only_when_asked(flows, tmp_path, capsys):
    assert audio(flows, "add", str(a_recording(tmp_path / "default.restart.wav"))) == 0
    first = (kk(flows) / "default.restart.mp3").read_bytes()
    again = a_recording(tmp_path / "again" / "default.restart.wav", "2")

    assert audio(flows, "add", str(again)) == 1
    assert "already a recording of this text; add --replace" in capsys.readouterr().err
    assert (kk(flows) / "default.restart.mp3").read_bytes() == first


def test_adding_a_file_that_is_not_audio_names_it_and_changes_nothing(flows, tmp_path, capsys):
    fake = tmp_path / "default.greeting.mp3"
    fake.write_text("this is a note, not a recording\n")
    before = (kk(flows) / "manifest.yaml").read_bytes()

    assert audio(flows, "add", str(fake)) == 1
    err = capsys.readouterr().err
    assert f"{fake} (prompt default.greeting): is text, not audio; nothing was changed" in err
    assert (kk(flows) / "manifest.yaml").read_bytes() == before


def test_adding_a_file_for_a_prompt_that_does_not_exist_names_the_likely_one(
    flows, tmp_path, capsys
):
    assert audio(flows, "add", str(a_recording(tmp_path / "default.greting.wav"))) == 1
    assert "no prompt 'default.greting' in the flows (did you mean default.greeting?)" in (
        capsys.readouterr().err
    )


def test_bad_files_in_the_audio_folder_are_each_named_by_file_and_prompt(flows, capsys):
    (kk(flows) / "default.restart.mp3").unlink()
    (kk(flows) / "default.topic.mp3").write_text("<html>not audio</html>")
    shutil.copy(a_recording(kk(flows) / "studio.wav"), kk(flows) / "default.greeting.mp3")
    (kk(flows) / "studio.wav").unlink()
    (kk(flows) / "stray.mp3").write_bytes((kk(flows) / "default.language.mp3").read_bytes())

    status, output = check(flows, capsys)

    assert status == 1
    assert (
        "audio/kk/default.restart.mp3 (prompt default.restart): listed in audio/kk/manifest.yaml, "
        "but the file is missing"
    ) in output
    assert "audio/kk/default.topic.mp3 (prompt default.topic): is text, not audio" in output
    assert (
        "audio/kk/default.greeting.mp3 (prompt default.greeting): is 44100 Hz, 2 channels" in output
    )
    assert "audio/kk/stray.mp3: not in audio/kk/manifest.yaml, so never played" in output
    # The web still starts and plays what is sound; the broken prompts fall back to the voice.
    assert kazakh_audio_of(flows, "topic") is None
    assert kazakh_audio_of(flows, "language") == "audio/kk/default.language.mp3"


def test_a_failing_engine_is_named_per_prompt_and_leaves_the_audio_as_it_was(flows, capsys):
    edit_text(flows, RESTART_KK, "Кешіріңіз, мәзірді басынан бастайық.")
    before = {p.name: p.read_bytes() for p in kk(flows).iterdir()}

    assert audio(flows, "build", "--engine", "false {text} {out}") == 1
    err = capsys.readouterr().err
    assert "FAILED default.restart (default, restart, prompt): engine command false failed" in err
    assert {p.name: p.read_bytes() for p in kk(flows).iterdir()} == before


def test_an_engine_that_is_not_installed_is_named_and_nothing_changes(flows, capsys, monkeypatch):
    edit_text(flows, RESTART_KK, "Кешіріңіз, мәзірді басынан бастайық.")
    before = {p.name: p.read_bytes() for p in kk(flows).iterdir()}

    assert audio(flows, "build", "--engine", "no-such-tts --say {text} --wav {out}") == 1
    assert "engine command 'no-such-tts' is not installed" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(flows))  # no espeak-ng on this PATH
    assert audio(flows, "build", "--engine", "espeak-ng") == 1
    assert "espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)" in (
        capsys.readouterr().err
    )
    assert {p.name: p.read_bytes() for p in kk(flows).iterdir()} == before


def test_any_command_line_can_be_the_engine(flows, tmp_path, capsys):
    edit_text(flows, RESTART_KK, "Кешіріңіз, мәзірді басынан бастайық.")
    # A "command engine" that is really espeak-ng, to show {lang}, {text} and {out} filled in.
    assert audio(flows, "build", "--engine", "espeak-ng -v {lang} -w {out} {text}") == 0
    entry = read_manifest(kk(flows))["default.restart.mp3"]
    assert entry.engine == "command espeak-ng"
    assert entry.audio_sha256 == file_hash(kk(flows) / "default.restart.mp3")


def test_the_recording_script_lists_every_prompt_in_flow_order_with_numbers_filled_in(
    flows, tmp_path, capsys
):
    assert audio(flows, "add", str(a_recording(tmp_path / "default.restart.wav"))) == 0
    assert audio(flows, "script", "--out", str(tmp_path / "script")) == 0

    rows = list(
        csv.DictReader((tmp_path / "script" / "recording-script-kk.csv").open(encoding="utf-8"))
    )
    names = [row["save_as"] for row in rows]
    assert len(rows) == 65  # 66 pieces, one of them recorded already
    assert names[:3] == [
        "default.greeting.wav",
        "default.language.wav",
        "default.language.on_invalid.wav",
    ]
    assert "default.restart.wav" not in names
    assert "volunteer.whisper_accept.wav" in names and "callback_prompts.intro.wav" in names
    greeting = rows[0]
    assert "1 1 2" in greeting["text"] and "1 0 2" in greeting["text"]
    assert greeting["status"] == "synthesized draft: to be recorded"
    wrong_key = rows[2]
    assert "default / topic (after a wrong key)" in wrong_key["also_said_at"]
    page = (tmp_path / "script" / "recording-script-kk.html").read_text("utf-8")
    assert page.count("<section>") == 65 and "Сіз Әйелдер ресурстық орталығының" in page

    assert audio(flows, "script", "--all", "--out", str(tmp_path / "all")) == 0
    assert "66 prompts to record" in capsys.readouterr().out


def test_the_manifest_records_what_each_file_says(flows):
    data = yaml.safe_load((kk(flows) / "manifest.yaml").read_text("utf-8"))
    greeting = data["files"]["default.greeting.mp3"]
    assert greeting["prompt"] == "default.greeting"
    assert greeting["text"].startswith("Сіз Әйелдер ресурстық орталығының")
    assert greeting["source"] == "synthesized"
    assert len(greeting["text_sha256"]) == 64 and len(greeting["audio_sha256"]) == 64


def greeting_play_url(flows: Path, tmp_path: Path) -> str:
    from support import redis_test_url, test_env
    from twiml_helpers import parse

    from hotline import create_app
    from hotline.settings import Settings

    settings = Settings.from_env(
        test_env(
            DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}",
            REDIS_URL=redis_test_url(),
            HOTLINE_FLOWS_DIR=str(flows),
        )
    )
    app = create_app(settings)
    from support import TwilioWebhooks

    twilio = TwilioWebhooks(app.test_client())
    root = parse(twilio.post("/twilio/voice", twilio.call_params()).data)
    app.extensions["db"].dispose()
    return next(e.text for e in root.iter("Play"))


def test_a_new_recording_gets_a_new_url_so_twilio_fetches_it_at_once(flows, tmp_path):
    from conftest import create_schema

    create_schema(f"sqlite:///{tmp_path / 'h.db'}")
    before = greeting_play_url(flows, tmp_path)
    assert audio(flows, "add", str(a_recording(tmp_path / "default.greeting.wav"))) == 0
    after = greeting_play_url(flows, tmp_path)

    path = "/ivr-audio/audio/kk/default.greeting.mp3?v="
    assert path in before and path in after and before != after
    digest = file_hash(kk(flows) / "default.greeting.mp3")
    assert after.endswith(f"?v={digest[:16]}")
