"""The command lines `make run`, the end-to-end tests and the benchmarks share."""

import os

import pytest

from integrations import launcher


def test_one_http_worker_per_core_the_platform_may_use(monkeypatch):
    monkeypatch.delenv("HTTP_WORKER_PROCESSES", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert launcher.http_worker_processes() == 3


def test_the_default_stops_at_four_workers_for_postgresqls_connections(monkeypatch):
    monkeypatch.delenv("HTTP_WORKER_PROCESSES", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert launcher.http_worker_processes() == launcher.HTTP_WORKER_PROCESSES_DEFAULT_MAX == 4


def test_one_http_worker_on_sqlite_whatever_the_cores(monkeypatch):
    monkeypatch.delenv("HTTP_WORKER_PROCESSES", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert launcher.http_worker_processes(sqlite=True) == 1


def test_the_operator_sets_the_number(monkeypatch):
    monkeypatch.setenv("HTTP_WORKER_PROCESSES", "5")
    assert launcher.http_worker_processes() == 5
    assert launcher.http_worker_processes(sqlite=True) == 5
    monkeypatch.setenv("HTTP_WORKER_PROCESSES", "0")
    assert launcher.http_worker_processes() == 1
    monkeypatch.setenv("HTTP_WORKER_PROCESSES", "two")
    with pytest.raises(ValueError, match="whole number, not 'two'"):
        launcher.http_worker_processes()
