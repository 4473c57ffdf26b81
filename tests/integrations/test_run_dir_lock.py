"""`make run` keeps its run folder to itself: a second platform on the same folder stops
before it touches anything, saying which process has it and how to run beside it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integrations.management.commands.run_platform import run_dir_held

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from pathlib import Path
import django
django.setup()
from integrations.management.commands.run_platform import run_dir_held
with run_dir_held(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_refusal_names_the_process_that_holds_the_folder(settings, tmp_path):
    # given another process holding the run folder, as a running platform does
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        settings.RUN_DIR = tmp_path
        # when this one starts on it, it is refused, naming that process
        with pytest.raises(CommandError, match=rf"\(pid {holder.pid}\)"):
            call_command("run_platform")
        # when the holder dies however it ends (here SIGKILL), the folder is free at once
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with run_dir_held(tmp_path):
            assert (tmp_path / "platform.lock").read_text() == str(os.getpid())
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_second_platform_on_the_same_run_folder_refuses_to_start(settings, tmp_path):
    settings.RUN_DIR = tmp_path
    with run_dir_held(tmp_path):
        with pytest.raises(CommandError) as refused:
            call_command("run_platform")
    message = str(refused.value)
    assert f"{tmp_path} is in use by a platform already running (pid {os.getpid()})" in message
    assert "RELAY_RUN_DIR" in message
    assert not (tmp_path / "broker").exists()  # it stopped before touching the folder


def test_the_run_folder_is_free_again_once_its_platform_stops(tmp_path):
    with run_dir_held(tmp_path):
        pass
    with run_dir_held(tmp_path):  # would raise if the first still held it
        assert (tmp_path / "platform.lock").read_text() == str(os.getpid())
