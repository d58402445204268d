"""The README's first contact stays true: its two commands, the install forms, the [proxy] extra."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_starts_with_exactly_the_two_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block is not None and README.index("```bash") < README.index("\n## ")
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["./dev.sh demo", "./dev.sh test"]


def test_every_install_form_works_from_a_clone() -> None:
    assert "pip install completions-proxy" not in README and "pip install 'completions-proxy" not in README
    paths = re.findall(r"pip install ((?:'?\.[^\s']*'?\s*)+)", README)
    assert paths, "the README shows pip install forms"
    for group in paths:
        for target in group.split():
            directory = re.sub(r"\[.*\]", "", target.strip("'"))
            assert (ROOT / directory / "setup.cfg").is_file(), target


def test_the_readme_lists_every_package_the_proxy_extra_pulls_in() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    direct = [re.split(r"[\s<>=;]", r.strip())[0] for r in config.get("options.extras_require", "proxy").splitlines() if r.strip()]
    assert direct
    for name in direct:
        assert f"`{name}`" in README, name


def test_every_distribution_is_named_with_its_directory() -> None:
    for cfg in [*ROOT.glob("providers/*/setup.cfg"), *ROOT.glob("plugins/*/setup.cfg")]:
        config = configparser.ConfigParser()
        config.read(cfg)
        name = config.get("metadata", "name")
        directory = cfg.parent.relative_to(ROOT).as_posix()
        assert re.search(rf"\| `\./{re.escape(directory)}` \| `{re.escape(name)}` \|", README), (directory, name)


def test_the_plugin_guide_links_what_it_refers_to() -> None:
    guide = (ROOT / "plugins" / "README.md").read_text()
    assert (ROOT / "plugins" / "embedded" / "README.md").is_file()
    assert (ROOT / "docs" / "cassettes.md").is_file() and "../docs/cassettes.md" in guide
    assert (ROOT / "plugins" / "embedded" / "tests" / "test_keyless_example.py").is_file()
    assert "configure_provider(name, voicerun_managed=True)" in guide and "keyless" in guide


def test_every_documented_hypercorn_command_sets_the_listen_backlog() -> None:
    # Run as written, hypercorn listens with a backlog of 100: a burst of a few hundred clients
    # connecting at once (a scale-up, a load balancer reconnecting) then loses connections.
    documents = [ROOT / "README.md", *ROOT.glob("docs/*.md"), ROOT / "deploy" / "README.md", *ROOT.glob("providers/*/README.md")]
    commands = [
        line
        for document in documents
        for line in document.read_text().splitlines()
        if re.match(r"\s*(?:python -m )?hypercorn\s.*completions_proxy", line)
    ]
    assert commands, "the docs show how to run the proxy with hypercorn"
    for command in commands:
        assert "--backlog" in command, command
