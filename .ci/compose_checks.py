"""What docker-compose.yml promises, checked on its resolved configuration (argv[1], the output
of `docker compose config` with every profile): production settings, secrets only from files,
the data directory on a named volume, the health check through `valise healthcheck`, a one-shot
seed, and two instances behind the proxy, which alone they trust for X-Forwarded-For; and the
Dockerfile's health check and dependency cache."""

import ipaddress
import pathlib
import sys

import yaml

# Variables that hold a secret: each must come as VAR_FILE, never as VAR.
SECRET_VARS = [
    "DATABASE_URL",
    "VALISE_MASTER_KEY",
    "VALISE_JWT_SECRET",
    "VALISE_PAYMENT_WEBHOOK_SECRET",
]
HEALTHCHECK = ["CMD", "/usr/local/bin/valise", "healthcheck"]

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def mounts(service):
    """(source, target, type) of each volume, from the short or the long syntax."""
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            yield source, target, kind
        else:
            yield volume.get("source"), volume["target"], volume["type"]


def secret_names(service):
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}


config = yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())
services = config["services"]
named_volumes = set(config.get("volumes") or {})
valise = {name: s for name, s in services.items() if s.get("image") == "valise:local"}
check(set(valise) == {"api", "seed", "api-2"}, f"Valise services: {sorted(valise)}")

for name, service in valise.items():
    env = service.get("environment", {})
    check(env.get("VALISE_ENV") == "production", f"{name}: VALISE_ENV is not production")
    for var in SECRET_VARS:
        check(var not in env, f"{name}: {var} is given in plain text; use {var}_FILE")
        path = env.get(f"{var}_FILE", "")
        check(
            path.startswith("/run/secrets/") and path.rsplit("/", 1)[-1] in secret_names(service),
            f"{name}: {var}_FILE is not one of its secrets: {path!r}",
        )
    data_dir = env.get("VALISE_DATA_DIR")
    check(
        any(t == data_dir and k == "volume" and s in named_volumes for s, t, k in mounts(service)),
        f"{name}: the data directory {data_dir} is not on a named volume",
    )
    anchors = env.get("VALISE_AUDIT_ANCHOR_FILE", "")
    check(anchors.startswith(f"{data_dir}/"), f"{name}: the audit anchors are not on the volume")

for name in ("api", "api-2"):
    test = services[name].get("healthcheck", {}).get("test")
    check(test == HEALTHCHECK, f"{name}: the health check is {test}, not {HEALTHCHECK}")

seed = services["seed"]
check(seed.get("profiles") == ["seed"], "seed: not in the seed profile alone")
check(seed.get("command") == ["seed", "--demo"], f"seed: runs {seed.get('command')}")
check(seed.get("restart", "no") == "no", "seed: restarts, but it is one-shot")
check("ports" not in seed, "seed: publishes a port")

for name in ("api-2", "proxy"):
    check(services[name].get("profiles") == ["pair"], f"{name}: not in the pair profile")
check("profiles" not in services["api"], "api: not in the default profile")

proxy = services["proxy"]
proxy_config = [s for s, t, _ in mounts(proxy) if t == "/usr/local/etc/haproxy/haproxy.cfg"]
check(proxy_config and pathlib.Path(proxy_config[0]).is_file(), "proxy: its configuration is missing")
if proxy_config and pathlib.Path(proxy_config[0]).is_file():
    text = pathlib.Path(proxy_config[0]).read_text()
    for server in ("api", "api-2"):
        check(f"server {server} {server}:8080" in text, f"proxy: does not balance over {server}")
    check("uri /readyz" in text, "proxy: does not check /readyz")
address = ipaddress.ip_address(proxy["networks"]["valise"]["ipv4_address"])
for name in ("api", "api-2"):
    trusted = services[name]["environment"].get("VALISE_TRUSTED_PROXIES", "")
    check(
        [ipaddress.ip_network(t.strip()) for t in trusted.split(",") if t.strip()]
        == [ipaddress.ip_network(address)],
        f"{name}: trusts {trusted!r} for X-Forwarded-For, not the proxy alone ({address})",
    )

for name, secret in config.get("secrets", {}).items():
    path = pathlib.Path(secret.get("file", ""))
    check(path.parent.name == "secrets", f"secret {name} is not under ./secrets: {path}")
for ignore in (".gitignore", ".dockerignore"):
    lines = {line.strip().strip("/") for line in pathlib.Path(ignore).read_text().splitlines()}
    check("secrets" in lines, f"{ignore} does not exclude ./secrets")

dockerfile = pathlib.Path("Dockerfile").read_text()
check('CMD ["/usr/local/bin/valise", "healthcheck"]' in dockerfile, "Dockerfile: no valise healthcheck")
check("--mount=type=cache" in dockerfile, "Dockerfile: no build cache for the dependencies")

if problems:
    print("docker-compose.yml does not keep its promises:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"compose checks: {len(valise)} Valise services, proxy at {address}: OK")
