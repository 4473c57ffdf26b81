"""`make run` keeps its run folder to itself: a second platform on the same folder stops
before it touches anything, saying which process has it and how to run beside it."""

import os

import pytest
from django.core.management import CommandError, call_command

from integrations.management.commands.run_platform import run_dir_held


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
