"""Prints the deployment test's figures after the run, whether or not output is captured."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.deploy.test_compose_deployment import table

    lines = table()
    if lines:
        terminalreporter.section("compose deployment")
        for line in lines:
            terminalreporter.write_line(line)
