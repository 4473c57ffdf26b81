"""docker-compose.yml, checked without Docker (CI runs `docker compose config` where Docker
is installed): the platform's processes as `make run` starts them, every one with its metrics
folder, Flower behind basic auth."""

from pathlib import Path

import yaml

from integrations import launcher

COMPOSE = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text()
)
SERVICES = COMPOSE["services"]
APP = ("migrate", "web", "dispatcher", "worker-events", "worker-http", "beat", "flower")


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_app_service_runs_the_image_with_production_settings_and_a_metrics_folder():
    for name in APP:
        service = SERVICES[name]
        assert service["build"] == "."
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"] in service["tmpfs"]


def test_workers_consume_the_queues_make_run_gives_them():
    for name, args in (
        ("worker-events", launcher.events_worker()),
        ("worker-http", launcher.http_worker()),
    ):
        command = SERVICES[name]["command"]
        for flag in ("--queues", "--pool", "--concurrency"):
            assert option(command, flag) == option(args, flag), (name, flag)
        assert SERVICES[name]["environment"]["WORKER_METRICS_PORT"]


def test_http_workers_run_one_per_core_as_make_run_does():
    assert SERVICES["worker-http"]["deploy"]["replicas"] >= 2
    assert "container_name" not in SERVICES["worker-http"]  # replicas need their own names
    assert "%h" in option(SERVICES["worker-http"]["command"], "--hostname")


def test_postgresql_takes_a_connection_per_thread_of_every_process():
    http = SERVICES["worker-http"]
    threads = int(option(http["command"], "--concurrency")) * http["deploy"]["replicas"]
    threads += 2 * 16 + int(option(SERVICES["worker-events"]["command"], "--concurrency"))
    command = SERVICES["postgres"]["command"]
    assert int(option(command, "-c").split("=")[1]) >= threads + 20  # dispatcher, beat, admin


def test_the_web_runs_threaded_gunicorn_without_its_own_access_log():
    command = SERVICES["web"]["command"]
    assert option(command, "--worker-class") == "gthread"
    assert "--access-logfile" not in command and "--access-logfile" not in launcher.web(bind="x")


def test_flower_refuses_to_start_without_basic_auth():
    command = " ".join(SERVICES["flower"]["command"])
    assert 'test -n "$$FLOWER_BASIC_AUTH"' in command and "--basic-auth=" in command
    assert SERVICES["flower"]["ports"] == ["127.0.0.1:5555:5555"]
