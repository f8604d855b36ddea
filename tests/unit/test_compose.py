"""The operator's deployment files: docker-compose.yml, .env.example and the Dockerfile they build.

`test_compose_config_*` ask the docker compose client (v2) to interpolate and validate the file;
it needs no Docker engine, only the client, and is skipped where the client is not installed.
The other tests read the files as text and run everywhere.

Secrets (passwords, the token key) have no default: compose reads them as `${VAR:?message}` and
refuses to run without them, and .env.example lists them with an empty value.
"""

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

APP_SERVICES = {"registry": 8001, "projects": 8002, "notifications": 8003}
TOPICS_JOB_FILES = (
    "create-topics.sh",
    "topics.conf",
    "kafka-security.sh",
    "kafka-acls.sh",
    "kafka-accounts.conf",
    "kafka-acls.conf",
)
OPERATOR_SERVICES = {"kafka-ui", "prometheus"}
MAIL_SERVICES = {"mailpit"}
OIDC_SERVICES = {"keycloak"}
ALL_SERVICES = {
    "kafka",
    "mongo",
    "topics",
    *APP_SERVICES,
    *OPERATOR_SERVICES,
    *MAIL_SERVICES,
    *OIDC_SERVICES,
}
REALM_FILE = ROOT / "infra" / "keycloak" / "realm-eci.json"

SHARED_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
    "KAFKA_REQUEST_TIMEOUT_MS": "30000",
    "MONGODB_TIMEOUT_MS": "5000",
    "AUTH_JWT_ISSUER": "eci",
    "AUTH_JWT_AUDIENCE": "eci-api",
    "AUTH_MAX_TOKEN_LIFETIME_S": "86400",
    "AUTH_OIDC_ISSUER": "",
    "AUTH_OIDC_JWKS_URL": "",
}
# The secrets compose requires, with the values the config tests give them.
SECRETS = {
    "KAFKA_ADMIN_PASSWORD": "kafka-admin-pw",
    "KAFKA_REGISTRY_PASSWORD": "kafka-registry-pw",
    "KAFKA_PROJECTS_PASSWORD": "kafka-projects-pw",
    "KAFKA_NOTIFICATIONS_PASSWORD": "kafka-notifications-pw",
    "KAFKA_INTEGRATOR_PASSWORD": "kafka-integrator-pw",
    "MONGO_ROOT_PASSWORD": "mongo-root-pw",
    "MONGO_REGISTRY_PASSWORD": "mongo-registry-pw",
    "MONGO_PROJECTS_PASSWORD": "mongo-projects-pw",
    "MONGO_NOTIFICATIONS_PASSWORD": "mongo-notifications-pw",
    "KEYCLOAK_ADMIN_PASSWORD": "keycloak-admin-pw",
}
REQUIRED = ""  # what compose_references gives for a `${VAR:?...}`: .env.example leaves it empty
# Settings that compose passes empty by default (an SMTP relay without login), not secrets.
# Also: no OpenID Connect provider unless one is named.
OPTIONAL_EMPTY = {
    "NOTIFICATIONS_SMTP_USERNAME",
    "NOTIFICATIONS_SMTP_PASSWORD",
    "AUTH_OIDC_ISSUER",
    "AUTH_OIDC_JWKS_URL",
}
# Notifications' delivery settings, with the defaults compose gives them.
NOTIFICATIONS_ENV = {
    "NOTIFICATIONS_SMTP_HOST": "mailpit",
    "NOTIFICATIONS_SMTP_PORT": "1025",
    "NOTIFICATIONS_SMTP_SENDER": "ECI France Horlogerie <notifications@eci.example>",
    "NOTIFICATIONS_SMTP_STARTTLS": "false",
    "NOTIFICATIONS_SMTP_USERNAME": "",
    "NOTIFICATIONS_SMTP_PASSWORD": "",
    "NOTIFICATIONS_DELIVERY_MAX_ATTEMPTS": "6",
    "NOTIFICATIONS_WEBHOOK_DISABLE_AFTER": "10",
    "NOTIFICATIONS_DIGEST_HOUR_UTC": "7",
    "NOTIFICATIONS_CANDIDATES_TOP_N": "5",
}


def service_env(name: str, port: int) -> dict[str, str]:
    """The prefixed settings one service reads, with the defaults compose gives them."""
    prefix = name.upper()
    extra = NOTIFICATIONS_ENV if name == "notifications" else {}
    return extra | {
        f"{prefix}_HTTP_HOST": "0.0.0.0",  # noqa: S104  # inside the container
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_MONGODB_DATABASE": f"eci_{name}",
        f"{prefix}_CONSUMER_GROUP": f"eci-{name}",
        f"{prefix}_CONSUMER_MAX_ATTEMPTS": "5",
        f"{prefix}_CONSUMER_BACKOFF_INITIAL_S": "0.2",
        f"{prefix}_CONSUMER_BACKOFF_MAX_S": "10",
        f"{prefix}_OUTBOX_POLL_INTERVAL_S": "0.5",
        f"{prefix}_OUTBOX_LEASE_S": "90",
        f"{prefix}_SHUTDOWN_TIMEOUT_S": "10",
    }


# ------------------------------------------------------------------------------------------------
# Text checks: no compose client needed
# ------------------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def compose_text() -> str:
    """docker-compose.yml without its full-line comments (which are not interpolated)."""
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def compose_references() -> dict[str, str]:
    """Every `${VAR:-default}` of the compose file, as {VAR: default}, and every required
    `${VAR:?message}` as {VAR: REQUIRED}."""
    defaults: dict[str, str] = {}
    for match in _REFERENCE.finditer(compose_text()):
        name, rest = match.groups()
        if rest.startswith(":?"):
            assert name in SECRETS, f"{name} is required by compose but is not a secret"
            assert name in rest, f"${{{name}{rest}}}: the message should name the variable"
            default = REQUIRED
        else:
            assert rest.startswith(":-"), f"${{{name}{rest}}} has neither `:-default` nor `:?`"
            default = rest.removeprefix(":-")
        assert defaults.setdefault(name, default) == default, (
            f"{name} has two defaults: {defaults[name]!r} and {default!r}"
        )
    return defaults


def env_example() -> dict[str, str]:
    """The assignments of .env.example, checking that each has a comment line right above it."""
    values: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line)
        if match:
            name, value = match.groups()
            assert name not in values, f"{name} is set twice in .env.example"
            assert previous.startswith("# "), f"{name} in .env.example has no comment above it"
            values[name] = value
        previous = line
    return values


def services_block() -> str:
    """The text of the top-level `services:` mapping."""
    match = re.search(r"^services:\n(.*?)(?=^\S|\Z)", compose_text(), re.MULTILINE | re.DOTALL)
    assert match, "docker-compose.yml has no top-level services:"
    return match.group(1)


def service_block(name: str) -> str:
    """The text of one service of the `services:` mapping."""
    match = re.search(
        rf"^  {re.escape(name)}:\n(.*?)(?=^  \S|\Z)", services_block(), re.MULTILINE | re.DOTALL
    )
    assert match, f"service {name} not found in docker-compose.yml"
    return match.group(1)


def test_every_compose_variable_is_documented_in_env_example_with_its_default() -> None:
    references = compose_references()
    documented = env_example()

    # The service settings are all there, and all of them are variables; the secrets are all
    # required, with no default.
    expected = dict(SHARED_ENV)
    for name, port in APP_SERVICES.items():
        expected |= service_env(name, port)
    assert {name: references.get(name) for name in expected} == expected
    required = {name for name, default in references.items() if default == REQUIRED}
    assert required - OPTIONAL_EMPTY == set(SECRETS)

    assert {name: documented.get(name) for name in references} == references, (
        ".env.example must list every variable docker-compose.yml reads, with the same default"
    )
    assert set(documented) <= set(references), (
        f".env.example documents variables compose never reads: "
        f"{sorted(set(documented) - set(references))}"
    )


def test_compose_declares_the_services_and_the_topics_job() -> None:
    services = set(re.findall(r"^  ([A-Za-z0-9_.-]+):\s*$", services_block(), re.MULTILINE))
    assert services == ALL_SERVICES

    topics = service_block("topics")
    for name in TOPICS_JOB_FILES:
        assert (ROOT / "infra" / name).is_file()
        assert re.search(
            rf"^\s*- \./infra/{re.escape(name)}:/infra/{re.escape(name)}:ro$", topics, re.MULTILINE
        ), f"infra/{name} is not mounted read-only"
    assert re.search(r"create-topics\.sh\W+kafka:9092\W+/infra/topics\.conf", topics)
    assert re.search(
        r"kafka-acls\.sh\W+kafka:9092\W+/tmp/admin\.properties\W+"
        r"/infra/kafka-accounts\.conf\W+/infra/kafka-acls\.conf",
        topics,
    )
    assert "KAFKA_TOPICS_CMD: /opt/kafka/bin/kafka-topics.sh" in topics
    assert re.search(r'^\s*restart: "no"$', topics, re.MULTILINE)
    for name in ("kafka-container.sh", "kafka-security.sh"):
        assert f"./infra/{name}:/infra/{name}:ro" in service_block("kafka")
    assert "./infra/mongo-init.js:/docker-entrypoint-initdb.d/" in service_block("mongo")

    for name in OPERATOR_SERVICES:  # optional: only with `--profile operator`
        assert re.search(r"^\s*profiles: \[operator\]$", service_block(name), re.MULTILINE), name
    for name in MAIL_SERVICES:  # optional: only with `--profile mail`
        assert re.search(r"^\s*profiles: \[mail\]$", service_block(name), re.MULTILINE), name
    for name in OIDC_SERVICES:  # optional: only with `--profile oidc`
        assert re.search(r"^\s*profiles: \[oidc\]$", service_block(name), re.MULTILINE), name
    assert "./infra/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in service_block("prometheus")
    for target in ("registry:8001", "projects:8002", "notifications:8003"):
        assert target in (ROOT / "infra" / "prometheus.yml").read_text()

    for name, port in APP_SERVICES.items():
        block = service_block(name)
        assert re.search(rf"^\s*SERVICE: {name}$", block, re.MULTILINE), f"{name}: build arg"
        assert "/health/ready" in block
        assert f"{name.upper()}_HTTP_PORT:-{port}" in block


def test_the_dockerfile_builds_each_service_package_of_the_workspace() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(
        r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE
    )
    assert '--package "eci-${SERVICE}"' in dockerfile
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE), "must not run as root"
    for name in APP_SERVICES:
        project = (ROOT / "services" / name / "pyproject.toml").read_text(encoding="utf-8")
        assert re.search(rf'^name = "eci-{name}"$', project, re.MULTILINE)
        assert (ROOT / "services" / name / "src" / f"eci_{name}" / "__init__.py").is_file()


# ------------------------------------------------------------------------------------------------
# Checks through the docker compose client
# ------------------------------------------------------------------------------------------------


@cache
def compose_client() -> list[str] | None:
    """The command that runs the docker compose v2 client, or None where it is not installed."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        try:
            version = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.returncode == 0 and re.search(r"\bv?2\.\d+", version.stdout):
            return command
    return None


def compose_config(tmp_path: Path, env_file: Path | None = None, **env: str) -> dict[str, Any]:
    """`docker compose config --format json`, in an environment holding only the secrets and
    `env`."""
    result = compose_run(tmp_path, env_file, **(SECRETS | env))
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def compose_run(
    tmp_path: Path, env_file: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`docker compose config --format json`, in an environment holding only `env`."""
    command = compose_client()
    if command is None:
        pytest.skip("docker compose client not installed")
    if env_file is None:
        env_file = tmp_path / "empty.env"
        env_file.write_text("", encoding="utf-8")
    clean = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return subprocess.run(
        [
            *command,
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=clean | env,
    )


def test_compose_config_with_the_defaults(tmp_path: Path) -> None:
    config = compose_config(tmp_path)
    services: dict[str, Any] = config["services"]
    # profiles are off
    assert set(services) == ALL_SERVICES - OPERATOR_SERVICES - MAIL_SERVICES - OIDC_SERVICES

    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.0"
    assert kafka["entrypoint"] == ["bash", "/infra/kafka-container.sh"]
    assert kafka["environment"] == {
        "CLUSTER_ID": "tTZuIyUURvmlY86fK2SXHA",
        "KAFKA_EXTERNAL_PORT": "29092",
        "KAFKA_ADMIN_PASSWORD": SECRETS["KAFKA_ADMIN_PASSWORD"],
    }
    assert [(p["target"], p["published"]) for p in kafka["ports"]] == [(29092, "29092")]
    assert (
        "kafka-broker-api-versions.sh --bootstrap-server localhost:9092 "
        "--command-config /tmp/eci-kafka/admin.properties"
    ) in " ".join(kafka["healthcheck"]["test"])
    assert any(v["type"] == "volume" for v in kafka["volumes"])
    # What the container script writes: the node and its listeners, all with SASL logins.
    script = (ROOT / "infra" / "kafka-container.sh").read_text(encoding="utf-8")
    for line in (
        "process.roles=broker,controller",
        "auto.create.topics.enable=false",
        "controller.quorum.voters=1@kafka:9093",
        "advertised.listeners=INTERNAL://kafka:9092,EXTERNAL://localhost:${KAFKA_EXTERNAL_PORT",
        "listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,"
        "CONTROLLER:SASL_PLAINTEXT",
        "log.dirs=$data",
    ):
        assert line in script, line
    assert "data=/var/lib/kafka/data" in script
    assert "broker-properties INTERNAL EXTERNAL" in script

    mongo = services["mongo"]
    assert mongo["image"] == "mongo:7"
    assert mongo["entrypoint"] == ["bash", "/infra/mongo-container.sh"]
    assert mongo["command"] == [
        "--replSet",
        "rs0",
        "--bind_ip_all",
        "--keyFile",
        "/data/configdb/eci-replica.key",
    ]
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "root"
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == SECRETS["MONGO_ROOT_PASSWORD"]
    healthcheck = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate({_id:'rs0',members:[{_id:0,host:'mongo:27017'}]})" in healthcheck
    assert "--authenticationDatabase admin" in healthcheck
    assert any(v["type"] == "volume" for v in mongo["volumes"])

    topics = services["topics"]
    assert topics["image"] == "apache/kafka:4.1.0"
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["entrypoint"][:2] == ["bash", "-euc"]
    assert topics["environment"]["KAFKA_TOPICS_CMD"] == (
        "/opt/kafka/bin/kafka-topics.sh --command-config /tmp/admin.properties"
    )
    assert sorted((v["source"], v["target"], v.get("read_only")) for v in topics["volumes"]) == [
        (str(ROOT / "infra" / name), f"/infra/{name}", True) for name in sorted(TOPICS_JOB_FILES)
    ]

    for name, port in APP_SERVICES.items():
        service = services[name]
        assert service["build"]["args"] == {"SERVICE": name}
        assert Path(service["build"]["context"]) == ROOT
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert {dep: spec["condition"] for dep, spec in service["depends_on"].items()} == {
            "kafka": "service_healthy",
            "mongo": "service_healthy",
            "topics": "service_completed_successfully",
        }
        assert service["restart"] == "unless-stopped"
        assert service["stop_grace_period"] == "30s"
        assert service["environment"] == (
            SHARED_ENV | service_env(name, port) | credentials(name, f"eci_{name}")
        )
        assert [(p["target"], p["published"]) for p in service["ports"]] == [(port, str(port))]
        assert f"http://127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
        # Public keys only: the token keys folder, read-only, and no private key setting.
        assert [(v["source"], v["target"], v.get("read_only")) for v in service["volumes"]] == [
            (str(ROOT / "token-keys"), "/etc/eci/token-keys", True)
        ]
        assert not {"AUTH_SIGNING_KEY_FILE", "AUTH_JWT_SECRET"} & set(service["environment"])


def credentials(name: str, database: str) -> dict[str, str]:
    """The settings that make a service log in as itself: its Kafka account, its MongoDB user
    (in its own database), production mode and the public token keys."""
    upper = name.upper()
    return {
        "KAFKA_SASL_USERNAME": name,
        "KAFKA_SASL_PASSWORD": SECRETS[f"KAFKA_{upper}_PASSWORD"],
        "MONGODB_URI": (
            f"mongodb://{name}:{SECRETS[f'MONGO_{upper}_PASSWORD']}@mongo:27017/"
            f"?replicaSet=rs0&authSource={database}"
        ),
        "ECI_ENV": "production",
        "AUTH_JWKS_FILE": "/etc/eci/token-keys/jwks.json",
        "AUTH_REVOKED_JTI_FILE": "/etc/eci/token-keys/revoked-jti.txt",
    }


def test_compose_config_gives_each_service_its_own_kafka_and_mongo_credentials(
    tmp_path: Path,
) -> None:
    services = compose_config(tmp_path, PROJECTS_MONGODB_DATABASE="projets")["services"]
    kafka_logins = {
        name: (
            services[name]["environment"]["KAFKA_SASL_USERNAME"],
            services[name]["environment"]["KAFKA_SASL_PASSWORD"],
        )
        for name in APP_SERVICES
    }
    mongo_uris = {name: services[name]["environment"]["MONGODB_URI"] for name in APP_SERVICES}
    # Three accounts, three passwords, three users: nothing shared.
    assert len(set(kafka_logins.values())) == len({u for u, _ in kafka_logins.values()}) == 3
    assert len({p for _, p in kafka_logins.values()}) == 3
    assert len(set(mongo_uris.values())) == 3
    # Each Kafka account is declared, and the broker's topics job sets its password.
    declared = {
        line.split()[0]: line.split()[3]
        for line in (ROOT / "infra" / "kafka-accounts.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for name, (user, password) in kafka_logins.items():
        assert user == name
        assert services["topics"]["environment"][declared[user]] == password
    # Each MongoDB user is the one mongo-init.js creates in the service's own database.
    assert mongo_uris["projects"].endswith("authSource=projets")
    init = (ROOT / "infra" / "mongo-init.js").read_text(encoding="utf-8")
    assert 'role: "readWrite", db: database' in init
    for name in APP_SERVICES:
        password = services["mongo"]["environment"][f"MONGO_{name.upper()}_PASSWORD"]
        assert mongo_uris[name].startswith(f"mongodb://{name}:{password}@")
    assert services["mongo"]["environment"]["PROJECTS_MONGODB_DATABASE"] == "projets"


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_config_refuses_to_run_without_a_secret(tmp_path: Path, secret: str) -> None:
    result = compose_run(tmp_path, **{k: v for k, v in SECRETS.items() if k != secret})
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def test_compose_config_from_env_example_is_the_default_config(tmp_path: Path) -> None:
    assert compose_config(tmp_path, env_file=ENV_EXAMPLE) == compose_config(tmp_path)


def test_compose_config_follows_an_overridden_port(tmp_path: Path) -> None:
    config = compose_config(
        tmp_path,
        REGISTRY_HTTP_PORT="9101",
        PROJECTS_PUBLISHED_PORT="18002",
        KAFKA_EXTERNAL_PORT="39092",
    )
    registry, projects = config["services"]["registry"], config["services"]["projects"]
    # The container listens where it is told, and its healthcheck and port mapping follow it.
    assert registry["environment"]["REGISTRY_HTTP_PORT"] == "9101"
    assert [(p["target"], p["published"]) for p in registry["ports"]] == [(9101, "8001")]
    assert "http://127.0.0.1:9101/health/ready" in " ".join(registry["healthcheck"]["test"])
    assert [(p["target"], p["published"]) for p in projects["ports"]] == [(8002, "18002")]
    kafka = config["services"]["kafka"]
    # infra/kafka-container.sh advertises EXTERNAL://localhost:$KAFKA_EXTERNAL_PORT.
    assert kafka["environment"]["KAFKA_EXTERNAL_PORT"] == "39092"
    assert [(p["target"], p["published"]) for p in kafka["ports"]] == [(29092, "39092")]


# ------------------------------------------------------------------------------------------------
# The OpenID Connect provider: Keycloak and its realm file
# ------------------------------------------------------------------------------------------------


def test_keycloak_imports_the_realm_read_only_and_needs_its_admin_password() -> None:
    block = service_block("keycloak")
    assert "image: quay.io/keycloak/keycloak:${KEYCLOAK_TAG:-26.4}" in block
    assert 'command: ["start-dev", "--import-realm"]' in block
    assert "./infra/keycloak/realm-eci.json:/opt/keycloak/data/import/realm-eci.json:ro" in block
    assert "KC_BOOTSTRAP_ADMIN_PASSWORD: ${KEYCLOAK_ADMIN_PASSWORD:?" in block
    assert '"127.0.0.1:${KEYCLOAK_PORT:-8180}:8080"' in block  # loopback only


def realm_mappers() -> dict[str, dict[str, str]]:
    """The claims the portal client's mappers write, by claim name (audience under `aud`)."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    [portal] = [c for c in realm["clients"] if c["clientId"] == "eci-portal"]
    mappers: dict[str, dict[str, str]] = {}
    for mapper in portal["protocolMappers"]:
        config = mapper["config"]
        mappers[config.get("claim.name", "aud")] = {"kind": mapper["protocolMapper"], **config}
    return mappers


def test_the_realm_maps_roles_company_and_clusters_to_the_claims_the_services_read() -> None:
    from eci_common.auth import Role  # noqa: PLC0415 - only these tests need the code
    from eci_common.token_verifier import principal_from_claims  # noqa: PLC0415

    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    assert realm["realm"] == "eci"
    assert "users" not in realm, "no account, no password in the realm file"
    assert "secret" not in REALM_FILE.read_text(encoding="utf-8").lower()
    # The four roles are client roles of eci-api, the audience nobody logs in to.
    assert {r["name"] for r in realm["roles"]["client"]["eci-api"]} == {r.value for r in Role}
    [api] = [c for c in realm["clients"] if c["clientId"] == "eci-api"]
    assert api["bearerOnly"]
    assert not api["directAccessGrantsEnabled"]
    # Access tokens only (an ID token must never pass as a bearer token).
    mappers = realm_mappers()
    assert set(mappers) == {"aud", "roles", "company", "clusters"}
    for config in mappers.values():
        assert (config["access.token.claim"], config["id.token.claim"]) == ("true", "false")
    assert mappers["aud"]["included.client.audience"] == "eci-api"
    assert mappers["roles"]["kind"] == "oidc-usermodel-client-role-mapper"
    assert mappers["roles"]["usermodel.clientRoleMapping.clientId"] == "eci-api"
    assert mappers["company"]["user.attribute"] == "company"
    assert (mappers["company"]["multivalued"], mappers["clusters"]["multivalued"]) == (
        "false",
        "true",
    )
    # A token as these mappers write it names the principal the services act on.
    claims = {"sub": "kc-user", "roles": ["animator"], "company": "c-1", "clusters": ["x"]}
    principal = principal_from_claims(claims)
    assert (principal.role, principal.company_id, principal.cluster_ids) == (
        Role.ANIMATOR,
        "c-1",
        frozenset({"x"}),
    )


def test_only_the_realm_administrators_may_set_company_and_clusters() -> None:
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    [provider] = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    for name in ("company", "clusters"):
        assert attributes[name]["permissions"]["edit"] == ["admin"], name
    assert attributes["clusters"]["multivalued"] is True
    assert "unmanagedAttributePolicy" not in profile  # no attribute outside the profile
