"""Service catalog: ``services/<name>.yaml`` -> ``Service``.

One file per service, so onboarding is adding a file. The file name is the
service name; a ``name`` key, when present, must agree with it, which catches
copy-pasted files that were renamed but not edited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import layout, names, yamlio
from .canary import read_delivery
from .errors import InputError, Problem, printable
from .ingress import service_annotation_problem
from .model import (
    Autoscaling,
    Catalog,
    EnvOverride,
    Ingress,
    Migration,
    Port,
    PortPurpose,
    Probe,
    ProbeKind,
    Resources,
    Service,
)
from .reader import Node, Problems, checked, did_you_mean, type_name

MAX_FILE_BYTES = 1024 * 1024


def load_catalog(catalog_dir: Path, shown_dir: str, environments: Iterable[str],
                 profiles: Mapping[str, str] | None = None) -> Catalog:
    """Every ``*.yaml`` of the catalog directory, all problems reported at once.

    ``profiles`` maps an environment to its profile when the stack sets one.
    ``environments.<key>`` overrides are looked up by profile, so the valid keys
    are the profiles; an environment that uses another profile is refused with
    that profile's name, since its own key would never apply.
    """
    problems = Problems()
    if not catalog_dir.is_dir():
        raise InputError([Problem(shown_dir, "", "catalog directory not found; create it with one <service>.yaml per service")])
    files = sorted(p for p in catalog_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.name != layout.NAMESPACES_FILE)
    if not files:
        raise InputError([Problem(shown_dir, "", "the catalog is empty; add one <service>.yaml per service")])
    profiles = dict(profiles or {})
    envs = tuple(sorted({profiles.get(e, e) for e in environments}))
    redirects = {e: p for e, p in profiles.items() if p != e and e not in envs}
    services: list[Service] = []
    seen: dict[str, str] = {}
    for path in files:
        shown = f"{shown_dir}/{path.name}"
        try:   # the reader refuses a dangling link, a FIFO, a device or more than MAX_FILE_BYTES
            data = yamlio.parse(yamlio.read_file_text(path, shown, max_bytes=MAX_FILE_BYTES), shown)
        except InputError as exc:
            problems.items.extend(exc.problems)
            continue
        service = read_service(data, shown, path.stem, envs, problems, redirects)
        if service is None:
            continue
        if service.name in seen:
            problems.add(shown, "name", f"service {service.name!r} is already defined in {seen[service.name]}")
            continue
        seen[service.name] = shown
        services.append(service)
    shared_file = f"{shown_dir}/{layout.NAMESPACES_FILE}"
    shared = read_shared_namespaces(catalog_dir / layout.NAMESPACES_FILE, shared_file, problems)
    if shared is not None:
        check_namespace_owners(services, shared, shared_file, problems)
    check_secret_variables(services, problems)
    services = resolve_clients(services, (p.stem for p in files), problems)
    if problems:
        raise InputError(problems.items)
    return Catalog(tuple(sorted(services, key=lambda s: s.name)))


def read_shared_namespaces(path: Path, shown: str, problems: Problems) -> dict[str, tuple[str, ...]] | None:
    """``services/_namespaces.yaml``: ``shared: {<namespace>: [<team>, ...]}``; {} when absent, None when bad.

    Sharing a namespace is a decision of every team in it, so it is written
    once, in a file of its own (which CODEOWNERS can give to the platform
    team), rather than claimed by whichever service file says so.
    """
    if not path.exists():
        return {}
    before = len(problems.items)
    try:
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            problems.add(shown, "", f"larger than {MAX_FILE_BYTES} bytes; it lists a few shared namespaces")
            return None
        data = yamlio.parse(yamlio.read_file_text(path, shown), shown)
    except InputError as exc:
        problems.items.extend(exc.problems)
        return None
    node = Node.root({} if data is None else data, shown, problems, "namespace declarations")
    if node is None:
        return None
    shared: dict[str, tuple[str, ...]] = {}
    for namespace, teams in node.entries("shared"):
        key = node.child_key("shared", namespace)
        problem = _shared_namespace_problem(namespace)
        if problem:
            problems.add(shown, key, problem)
            continue
        if not isinstance(teams, list) or not teams:
            problems.add(shown, key, f"expected a list of teams, e.g. [checkout, storefront], got {type_name(teams)}")
            continue
        for i, team in enumerate(teams):
            team_problem = (names.label_problem(team, names.TEAM_MAX) if isinstance(team, str)
                            else f"expected a team name, got {type_name(team)}")
            if team_problem:
                problems.add(shown, f"{key}[{i}]", team_problem)
        shared[namespace] = tuple(sorted({t for t in teams if isinstance(t, str)}))
    node.done()
    return shared if len(problems.items) == before else None


def _shared_namespace_problem(namespace: str) -> str | None:
    if namespace in names.RESERVED_NAMESPACES:
        return f"{namespace!r} is a system namespace; no team may deploy there, shared or not"
    return names.label_problem(namespace, names.NAMESPACE_MAX)


def check_namespace_owners(services: list[Service], shared: Mapping[str, tuple[str, ...]], shared_file: str,
                           problems: Problems) -> None:
    """A namespace is one team's unless ``shared_file`` shares it.

    A team's AppProject may deploy into every namespace its services name, so
    a service naming another team's namespace would open that namespace to its
    whole team. The owner is the team the namespace is named after (the
    default namespace of that team's services), else the team of the first
    service file using it.
    """
    first_of_team: dict[str, Service] = {}
    for service in sorted(services, key=lambda s: s.file):
        first_of_team.setdefault(service.team, service)
    users: dict[str, list[Service]] = {}
    for service in sorted(services, key=lambda s: s.file):
        users.setdefault(service.namespace, []).append(service)
    for namespace, using in sorted(users.items()):
        teams = sorted({s.team for s in using})
        if namespace in shared:
            for team in (t for t in teams if t not in shared[namespace]):
                problems.add(next(s.file for s in using if s.team == team), "namespace",
                             f"{namespace!r} is shared by teams {', '.join(shared[namespace])} only ({shared_file}); "
                             f"add {team} there or use a namespace of the team's own")
            continue
        if namespace in first_of_team:
            owner = namespace
            whose = f"belongs to team {owner} (a namespace named after a team is that team's)"
        else:
            owner = using[0].team
            whose = f"is team {owner}'s ({using[0].file} uses it)"
        share = ", ".join(sorted({owner, *teams}))
        for team in (t for t in teams if t != owner):
            problems.add(next(s.file for s in using if s.team == team), "namespace",
                         f"{namespace!r} {whose}; a namespace belongs to one team: use a namespace of the team's own, "
                         f"or share it in {shared_file}: shared: {{{namespace}: [{share}]}}")


def check_secret_variables(services: list[Service], problems: Problems) -> None:
    """Every declared secret reads its own environment variable (``layout.secret_env_var``).

    The separator leaves one way for two secrets to meet: a service name with
    '--' against a secret name with '__' (``a--b`` + ``C`` and ``a`` +
    ``B__C``). Then one team's value would be sealed into the other's Secret,
    so the pair is refused, naming both.
    """
    seen: dict[str, tuple[Service, str]] = {}
    for service in sorted(services, key=lambda s: s.file):
        for name in service.secrets:
            variable = layout.secret_env_var(service.name, name)
            other = seen.setdefault(variable, (service, name))
            if other[0] is not service:
                problems.add(service.file, "secrets",
                             f"{name} would be read from {variable}, which is also the variable of secret {other[1]} "
                             f"of service {other[0].name} ({other[0].file}); rename one of the two secrets")


def read_service(data: object, file: str, stem: str, envs: tuple[str, ...], problems: Problems,
                 redirects: Mapping[str, str] | None = None) -> Service | None:
    before = len(problems.items)
    node = Node.root(data, file, problems, "service settings")
    if node is None:
        return None
    name_problem = (names.label_problem(stem, names.SERVICE_MAX, names.DNS1035_LABEL)
                    or names.reserved_service_problem(stem))
    if name_problem:
        problems.add(file, "", f"the file name gives the service name, and {name_problem}")
    name = node.as_str("name", stem)
    if name != stem:
        node.error("name", f"{name!r} differs from the file name; rename the file to {name}.yaml or fix the name")
    team = checked(node.as_str("team", required=True, describe="the owning team, e.g. 'checkout'"),
                   lambda v: names.label_problem(v, names.TEAM_MAX), node, "team")
    namespace = checked(node.as_str("namespace", team), lambda v: _namespace_problem(v), node, "namespace")
    description = checked(node.as_str("description", ""),
                          lambda v: names.annotations_size_problem({layout.ANNOTATION_DESCRIPTION: v}),
                          node, "description") or ""
    image = node.node("image")
    repository, tag = stem, None
    if image is not None:
        explicit = image.as_str("repository")
        repository = checked(explicit, _ecr_repository_problem, image, "repository") or stem
        tag = checked(image.as_str("tag", required=True, describe="the release tag to deploy when a stack pins none"),
                      tag_problem, image, "tag")
        image.done()
    else:
        node.error("image", "is required: image.tag gives the release to deploy, e.g. image: {tag: '1.0.0'}")
    ports = _read_ports(node)
    port_names = _declared_port_names(node)
    command = _str_list(node, "command")
    args = _str_list(node, "args")
    health = node.node("health")
    liveness = readiness = None
    if health is not None:
        liveness = _read_probe(health, "liveness", port_names)
        readiness = _read_probe(health, "readiness", port_names)
        health.done()
    resources = read_resources(node, "resources") or Resources()
    ingress = _read_ingress(node, port_names)
    if ingress is not None and not ports:
        node.error("ingress", "a service without ports cannot have an ingress; add ports or remove ingress")
    _check_ingress_port(node, ingress, ports)
    clients = _read_clients(node, stem)
    autoscaling = read_autoscaling(node, "autoscaling")
    if autoscaling is not None and not resources.cpu_request and not _has_cpu_request(node):
        node.error("autoscaling", "CPU-based autoscaling needs resources.requests.cpu")
    config = read_config(node, "config")
    secrets = _read_secrets(node)
    migration = read_migration(node)
    delivery = read_delivery(node)
    overlap = sorted({k for k, _ in config} & set(secrets))
    if overlap:
        node.error("secrets", f"{', '.join(overlap)} also set in config; a variable comes from one place")
    environments = _read_environments(node, envs, autoscaling is not None or node.has("autoscaling"),
                                      autoscaling.target_cpu_percent if autoscaling else DEFAULT_CPU_TARGET,
                                      redirects or {})
    node.done()
    if len(problems.items) > before or team is None or namespace is None or tag is None:
        return None
    return Service(
        name=stem, file=file, team=team, namespace=namespace, description=description,
        image_repository=repository, image_tag=tag, ports=ports, command=command, args=args,
        liveness=liveness, readiness=readiness, resources=resources, ingress=ingress,
        autoscaling=autoscaling, config=config, secrets=secrets, environments=environments,
        migration=migration,
        clients=tuple((name, "") for name in clients),   # namespaces: resolve_clients, once all are read
        delivery=delivery,
    )


DEFAULT_MIGRATION_TIMEOUT = 600
DEFAULT_MIGRATION_BACKOFF = 1


def read_migration(node: Node) -> Migration | None:
    """``migration: {command, args, timeoutSeconds, backoffLimit}``: the service's migration Job.

    A command or args is required: without either the Job would start the
    service itself, which never completes, and every sync would wait for it
    until the timeout. The limits are bounded so a typo cannot hold a sync for
    days or retry a half-applied migration dozens of times.
    """
    section = node.node("migration")
    if section is None:
        return None
    command = _str_list(section, "command")
    args = _str_list(section, "args")
    timeout = section.as_int("timeoutSeconds", DEFAULT_MIGRATION_TIMEOUT, minimum=30, maximum=86400)
    backoff = section.as_int("backoffLimit", DEFAULT_MIGRATION_BACKOFF, minimum=0, maximum=10)
    if all(section.data.get(key) in (None, []) for key in ("command", "args")):
        # (A command that is not a list of strings is reported on its own.)
        node.error("migration", "needs a command or args to run in the service's image, "
                                "e.g. migration: {command: [/app/migrate, up]}")
    section.done()
    if (not command and not args) or timeout is None or backoff is None:
        return None
    return Migration(command=command, args=args, timeout_seconds=timeout, backoff_limit=backoff)


def _has_cpu_request(node: Node) -> bool:
    """Whether a CPU request was written at all (an invalid one is reported on its own)."""
    res = node.data.get("resources")
    requests = res.get("requests") if isinstance(res, dict) else None
    return isinstance(requests, dict) and requests.get("cpu") is not None


def tag_problem(tag: str) -> str | None:
    if tag == "latest":
        return "'latest' is not a release; pin an immutable tag such as '1.4.2'"
    if not names.IMAGE_TAG.fullmatch(tag):
        return f"{tag!r} is not a valid image tag (letters, digits, '_', '.', '-', at most 128)"
    return None


def _namespace_problem(value: str) -> str | None:
    if value in names.RESERVED_NAMESPACES:
        return f"{value!r} is a system namespace; choose a namespace of the team's own"
    return names.label_problem(value, names.NAMESPACE_MAX)


def _ecr_repository_problem(value: str) -> str | None:
    if len(value) > 200 or not names.ECR_REPOSITORY.fullmatch(value):
        return f"{value!r} is not a valid ECR repository name (lowercase, digits, '._-' and '/' separators)"
    return None


def _str_list(node: Node, name: str) -> tuple[str, ...]:
    items = node.as_list(name) or []
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            node.error(f"{name}[{i}]", f"expected a string, got {type_name(item)}")
        else:
            out.append(item)
    return tuple(out)


def _declared_port_names(node: Node) -> set[str]:
    """Port names as written, valid or not, so a bad port number does not also break probes."""
    names_: set[str] = set()
    for item in node.data.get("ports") or [] if isinstance(node.data.get("ports"), list) else []:
        if isinstance(item, dict):
            name = item.get("name", "http")
            if isinstance(name, str):
                names_.add(name)
    return names_


def _read_ports(node: Node) -> tuple[Port, ...]:
    ports: list[Port] = []
    seen_names: set[str] = set()
    seen_numbers: set[int] = set()
    for item in node.nodes("ports"):
        name = item.as_str("name", "http", pattern=names.PORT_NAME, max_len=15,
                        describe="lowercase letters, digits and '-', at most 15 characters")
        container = item.as_int("containerPort", required=True, minimum=1, maximum=65535)
        service = item.as_int("servicePort", container, minimum=1, maximum=65535)
        # A port named like what it is for is that by default: an unmarked metrics port stays internal.
        default_purpose = name if name in INTERNAL_PORT_NAMES else PortPurpose.TRAFFIC.value
        purpose = item.as_str("purpose", default_purpose, choices=tuple(p.value for p in PortPurpose))
        item.done()
        if name is None or container is None or service is None or purpose is None:
            continue
        if name in seen_names:
            item.error("name", f"port name {name!r} is used twice")
            continue
        if container in seen_numbers:
            item.error("containerPort", f"container port {container} is used twice")
            continue
        seen_names.add(name)
        seen_numbers.add(container)
        ports.append(Port(name, container, service, PortPurpose(purpose)))
    return tuple(ports)


# Port names whose default ``purpose`` is themselves (metrics and admin ports are internal).
INTERNAL_PORT_NAMES = (PortPurpose.METRICS.value, PortPurpose.ADMIN.value)


def _read_probe(health: Node, name: str, port_names: set[str]) -> Probe | None:
    probe = health.node(name)
    if probe is None:
        return None
    default_kind = "exec" if probe.has("command") else ("tcp" if not probe.has("path") else "http")
    kind_text = probe.as_str("type", default_kind, choices=("http", "tcp", "exec"))
    kind = ProbeKind(kind_text or default_kind)
    path = port = None
    command: tuple[str, ...] = ()
    if kind is ProbeKind.HTTP:
        path = probe.as_str("path", required=True, pattern=names.HTTP_PATH, describe="an absolute URL path like /healthz")
    if kind in (ProbeKind.HTTP, ProbeKind.TCP):
        default_port = sorted(port_names)[0] if len(port_names) == 1 else None
        port = probe.as_str("port", default_port, required=default_port is None)
        if port is not None and port not in port_names:
            probe.error("port", f"{port!r} is not a port of this service; ports: {', '.join(sorted(port_names)) or 'none'}")
    if kind is ProbeKind.EXEC:
        command = _str_list(probe, "command")
        if not command:
            probe.error("command", "an exec probe needs a command, e.g. ['/bin/healthcheck']")
    result = Probe(
        kind=kind, path=path, port=port, command=command,
        initial_delay_seconds=probe.as_int("initialDelaySeconds", 0, minimum=0, maximum=3600) or 0,
        period_seconds=probe.as_int("periodSeconds", 10, minimum=1, maximum=3600) or 10,
        timeout_seconds=probe.as_int("timeoutSeconds", 1, minimum=1, maximum=600) or 1,
        failure_threshold=probe.as_int("failureThreshold", 3, minimum=1, maximum=100) or 3,
    )
    probe.done()
    return result


def read_resources(node: Node, name: str) -> Resources | None:
    res = node.node(name)
    if res is None:
        return None
    values: dict[str, str | None] = {}
    for section in ("requests", "limits"):
        part = res.node(section)
        if part is None:
            continue
        values[f"cpu_{section[:-1]}"] = checked(_quantity(part, "cpu"), names.cpu_problem, part, "cpu")
        values[f"memory_{section[:-1]}"] = checked(_quantity(part, "memory"), names.memory_problem, part, "memory")
        part.done()
    res.done()
    result = Resources(
        cpu_request=values.get("cpu_request"), memory_request=values.get("memory_request"),
        cpu_limit=values.get("cpu_limit"), memory_limit=values.get("memory_limit"),
    )
    return result


def check_resource_order(resources: Resources, file: str, key: str, problems: Problems) -> None:
    """Requests above limits are rejected by the API server at sync time; catch it here."""
    for kind, request, limit in (("cpu", resources.cpu_request, resources.cpu_limit),
                                 ("memory", resources.memory_request, resources.memory_limit)):
        if request and limit:
            req, lim = names.parse_quantity(request), names.parse_quantity(limit)
            if req is not None and lim is not None and req > lim:
                problems.add(file, f"{key}.requests.{kind}", f"{request} is more than the limit {limit}")


def _quantity(node: Node, name: str) -> str | None:
    value = node.raw(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads cpu: 1 as a number; it is still a valid quantity
    return node.as_str(name)


def _read_ingress(node: Node, port_names: set[str]) -> Ingress | None:
    ing = node.node("ingress")
    if ing is None:
        return None
    host = checked(ing.as_str("host", required=True, describe="the host's first label; the stack adds its domain"),
                   lambda v: names.label_problem(v, 63), ing, "host")
    path = ing.as_str("path", "/", pattern=names.HTTP_PATH, describe="an absolute URL path like /")
    default_port = "http" if "http" in port_names else (sorted(port_names)[0] if port_names else "http")
    port = ing.as_str("port", default_port)
    if port is not None and port_names and port not in port_names:
        ing.error("port", f"{port!r} is not a port of this service; ports: {', '.join(sorted(port_names))}")
    annotations = _read_ingress_annotations(ing)
    ing.done()
    if host is None or path is None or port is None or annotations is None:
        return None
    return Ingress(host=host, path=path, port=port, annotations=annotations)


def _read_ingress_annotations(ing: Node) -> tuple[tuple[str, str], ...] | None:
    """The service's own Ingress annotations, each checked on its own (``gitops.ingress``); None when one is bad.

    What a key may do depends on the stacks too (a load balancer shared by
    the environment's services): ``gitops.ingress.ingress_problems`` checks that.
    """
    out: dict[str, str] = {}
    ok = True
    for key, value in ing.entries("annotations"):
        problem = service_annotation_problem(key, value)
        if problem:
            ing.problems.add(ing.file, ing.child_key("annotations", key), problem)
            ok = False
        elif isinstance(value, str):
            out[key] = value
    size_problem = names.annotations_size_problem(out)
    if size_problem:
        ing.error("annotations", size_problem)
        ok = False
    return tuple(sorted(out.items())) if ok else None


def _check_ingress_port(node: Node, ingress: Ingress | None, ports: tuple[Port, ...]) -> None:
    """The ingress routes to a traffic port: a metrics or admin port is never published."""
    port = next((p for p in ports if ingress is not None and p.name == ingress.port), None)
    if port is not None and port.internal:
        traffic = ", ".join(p.name for p in ports if not p.internal) or "none"
        node.error("ingress.port", f"{port.name!r} is a {port.purpose.value} port, which stays inside the "
                                   f"namespace; route the ingress to a traffic port ({traffic})")


def _read_clients(node: Node, stem: str) -> tuple[str, ...]:
    """``clients``: services in other namespaces that call this one (their names; resolved by ``resolve_clients``)."""
    out: list[str] = []
    for i, item in enumerate(node.as_list("clients") or []):
        key = f"clients[{i}]"
        problem = (names.label_problem(item, names.SERVICE_MAX, names.DNS1035_LABEL) if isinstance(item, str)
                   else f"expected a service name, got {type_name(item)}")
        if problem:
            node.error(key, problem)
        elif item == stem:
            node.error(key, "is this service itself; its own pods (its namespace) may always connect")
        elif item in out:
            node.error(key, f"{item} is listed twice")
        else:
            out.append(item)
    return tuple(sorted(out))


def resolve_clients(services: list[Service], known: Iterable[str], problems: Problems) -> list[Service]:
    """Each service's ``clients`` with their namespaces, now that every service is read.

    A name that is no service file is reported (a file that failed to load
    is already reported on its own, so its name counts as known).
    """
    by_name = {s.name: s for s in services}
    names_known = sorted(set(known))
    out = []
    for service in services:
        resolved = []
        for i, (name, _) in enumerate(service.clients):
            client = by_name.get(name)
            if client is not None:
                resolved.append((name, client.namespace))
            elif name not in names_known:
                problems.add(service.file, f"clients[{i}]", f"{name!r} is no service of the catalog"
                             f"{did_you_mean(name, names_known)}; a client is a service file's name")
        out.append(dataclasses.replace(service, clients=tuple(resolved)))
    return out


DEFAULT_CPU_TARGET = 70


def read_autoscaling(node: Node, name: str, default_cpu: int = DEFAULT_CPU_TARGET) -> Autoscaling | None:
    """``default_cpu``: an environment's override keeps the service's own target unless it sets one."""
    hpa = node.node(name)
    if hpa is None:
        return None
    low = hpa.as_int("minReplicas", required=True, minimum=1, maximum=1000)
    high = hpa.as_int("maxReplicas", required=True, minimum=1, maximum=1000)
    cpu = hpa.as_int("targetCPUUtilizationPercentage", default_cpu, minimum=1, maximum=100)
    hpa.done()
    if low is None or high is None or cpu is None:
        return None
    if low > high:
        hpa.error("minReplicas", f"{low} is more than maxReplicas {high}")
        return None
    return Autoscaling(low, high, cpu)


def read_config(node: Node, name: str) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for key, value in node.entries(name):
        where = node.child_key(name, key)
        if not names.ENV_VAR.fullmatch(key):
            node.problems.add(node.file, where, "not a valid environment variable name (letters, digits, '_', not starting with a digit)")
            continue
        if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
            hint = "" if isinstance(value, (list, dict)) else f"; quote the value, e.g. \"{printable(str(value), 40)}\""
            node.problems.add(node.file, where, f"expected a string, got {type_name(value)}{hint}")
            continue
        out[key] = str(value)
    return tuple(sorted(out.items()))


def _read_secrets(node: Node) -> tuple[str, ...]:
    out: list[str] = []
    for i, item in enumerate(node.as_list("secrets") or []):
        key = f"secrets[{i}]"
        if not isinstance(item, str) or not names.ENV_VAR.fullmatch(item):
            node.error(key, "expected a secret name usable as an environment variable, e.g. STRIPE_API_KEY")
        elif item in out:
            node.error(key, f"{item} is listed twice")
        else:
            out.append(item)
    return tuple(sorted(out))


def _read_environments(node: Node, envs: tuple[str, ...], base_hpa: bool, base_cpu: int,
                       redirects: Mapping[str, str]) -> tuple[tuple[str, EnvOverride], ...]:
    section = node.node("environments")
    if section is None:
        return ()
    out: list[tuple[str, EnvOverride]] = []
    for env in sorted(section.data):
        if env in redirects:
            section.error(env, f"environment {env!r} uses profile {redirects[env]!r}, whose overrides apply to it; "
                               f"put them under environments.{redirects[env]}")
            section.raw(env)
            continue
        if env not in envs:   # keys of an input file are strings (yamlio refuses others)
            section.error(str(env), f"unknown environment{did_you_mean(str(env), list(envs))}; environments of this project: {', '.join(envs)}")
            section.raw(str(env))
            continue
        item = section.node(env)
        if item is None:
            continue
        replicas = item.as_int("replicas", minimum=0, maximum=1000)
        resources = read_resources(item, "resources")
        autoscaling = read_autoscaling(item, "autoscaling", base_cpu)
        if autoscaling is not None and not base_hpa:
            item.error("autoscaling", "the service has no autoscaling to override; add it at the top level first")
        if replicas is not None and (autoscaling is not None or base_hpa):
            item.error("replicas", "the autoscaler owns the replica count; set autoscaling.minReplicas instead")
        config = read_config(item, "config")
        item.done()
        out.append((env, EnvOverride(replicas=replicas, resources=resources, autoscaling=autoscaling, config=config)))
    return tuple(out)
