"""Which security groups guard which application load balancer, and what each of them admits.

A stack view is needed because the load balancer names its groups by id, and a group's rules
may live on other resources. A group is matched by the `id` the engine puts in its outputs, or,
where the view carries no id (a preview, or a client that sends inputs), through the property
dependency the SDK records from the load balancer's `securityGroups` to the group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from matching_policy._props import Verdicts, dependencies, get, known_elements, known_text
from matching_policy.network import RULE_TYPES, SECURITY_GROUP, Ingress, ingress_of

LOAD_BALANCERS = frozenset(
    {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
)
_OTHER_KINDS = frozenset({"network", "gateway"})


def load_balancer_kind(props: object) -> str:
    """`loadBalancerType` folded to lower case; absent, empty or unrecognised read as application.

    Application is the provider's default and the kind most policies guard, so a spelling the
    pack does not recognise ("", "Application ") gets every load-balancer rule rather than none.
    """
    found = get(props, "loadBalancerType")
    kind = found.strip().lower() if isinstance(found, str) else ""
    return kind if kind in _OTHER_KINDS else "application"


def is_application(props: object) -> bool:
    return load_balancer_kind(props) == "application"


def region_of(resource: PolicyResource) -> str | None:
    """pulumi-aws 7 lets a resource name its own region; otherwise its provider's applies."""
    own = known_text(resource.props, "region")
    if own is not None or resource.provider is None:
        return own
    return known_text(resource.provider.props, "region")


@dataclass(frozen=True)
class Guards:
    """The groups found for one load balancer, and the ids listed that match none of them."""

    groups: list[PolicyResource] = field(default_factory=list[PolicyResource])
    strangers: list[str] = field(default_factory=list[str])
    # How many of `strangers` are surely not in the stack: fewer than all of them when some
    # linked groups carry no id in this view, so that any of the ids may be theirs.
    outsiders: int = 0
    # True when the view holds only some of the listed groups (a preview): ids the program
    # could not know yet may still name groups that are not in the stack.
    partial: bool = False


OnLoadBalancer = Callable[[PolicyResource, Guards], None]
OnIngress = Callable[[PolicyResource, PolicyResource, PolicyResource, Ingress], None]


class GuardWalk:
    """Visits every application load balancer, its guarding groups and each source they admit."""

    def __init__(self, resources: list[PolicyResource], verdicts: Verdicts) -> None:
        self._verdicts = verdicts
        self._balancers = [r for r in resources if r.resource_type in LOAD_BALANCERS]
        groups = [r for r in resources if r.resource_type == SECURITY_GROUP]
        self._by_id = {gid: g for g in groups if (gid := known_text(g.props, "id"))}
        self._rules: dict[str, list[PolicyResource]] = {}

        for rule in (r for r in resources if r.resource_type in RULE_TYPES):
            verdicts.judge(rule.urn, self._attach, rule)

    def walk(self, on_balancer: OnLoadBalancer, on_ingress: OnIngress) -> None:
        for balancer in self._balancers:
            self._verdicts.judge(balancer.urn, self._visit, balancer, on_balancer, on_ingress)

    def _attach(self, rule: PolicyResource) -> None:
        targets = {g.urn: g for g in dependencies(rule, "securityGroupId", SECURITY_GROUP)}
        if not targets:
            # No dependency means a literal id: read it, unknown or not, so nothing passes unseen.
            target_id = get(rule.props, "securityGroupId")
            group = self._by_id.get(target_id) if isinstance(target_id, str) else None
            targets = {group.urn: group} if group is not None else {}

        for urn in targets:
            self._rules.setdefault(urn, []).append(rule)

    def _visit(
        self, balancer: PolicyResource, on_balancer: OnLoadBalancer, on_ingress: OnIngress
    ) -> None:
        if not is_application(balancer.props):
            return

        guards, pending = self._guards(balancer)
        on_balancer(balancer, guards)

        for group in guards.groups:
            self._verdicts.judge(group.urn, self._visit_group, balancer, group, on_ingress)

        if pending is not None:
            raise pending

    def _guards(self, balancer: PolicyResource) -> tuple[Guards, UnknownValueError | None]:
        listed, unknown, pending = _listed_ids(balancer.props)
        found = {self._by_id[i].urn: self._by_id[i] for i in listed if i in self._by_id}
        unmatched = [i for i in listed if i not in self._by_id]
        linked = dependencies(balancer, "securityGroups", SECURITY_GROUP)
        extra = [g for g in linked if g.urn not in found]

        # A linked group whose id the view does not carry may be behind one listed id: a
        # client's inputs hold its id resolved, a preview holds it unknown. Unknown elements
        # claim those groups first, because only an output can be unknown: a literal id
        # never stands for a group of this stack whose id the view lacks.
        silent = [g for g in extra if known_text(g.props, "id") is None]
        spare = max(len(silent) - unknown, 0)
        strangers = unmatched if len(unmatched) > spare else []
        outsiders = len(unmatched) - spare if strangers else 0
        guards = Guards([*found.values(), *extra], strangers, outsiders, pending is not None)
        return guards, pending

    def _visit_group(
        self, balancer: PolicyResource, group: PolicyResource, on_ingress: OnIngress
    ) -> None:
        for ingress in ingress_of(SECURITY_GROUP, group.props, group.name, group.urn):
            on_ingress(balancer, group, group, ingress)

        for rule in self._rules.get(group.urn, []):
            self._verdicts.judge(rule.urn, self._visit_rule, balancer, group, rule, on_ingress)

    def _visit_rule(
        self,
        balancer: PolicyResource,
        group: PolicyResource,
        rule: PolicyResource,
        on_ingress: OnIngress,
    ) -> None:
        for ingress in ingress_of(rule.resource_type, rule.props, rule.name, rule.urn):
            on_ingress(balancer, group, rule, ingress)


def _listed_ids(props: object) -> tuple[list[str], int, UnknownValueError | None]:
    """The known ids in `securityGroups`, how many elements are unknown, and the first unknown."""
    try:
        value = get(props, "securityGroups")
    except UnknownValueError as error:
        return [], 0, error
    return known_elements(value)
