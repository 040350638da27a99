"""Fault injection in front of moto: what real AWS does and the emulator does not.

moto answers every call at once, in any order, and never throttles. Real AWS
throttles ("Rate exceeded"), fails with 5xx, refuses deletes while something
still depends on a resource, answers NotFound for a resource created a moment
ago, and a tool can die half-way. This WSGI middleware (loaded by
scripts/emulator.py --faults) injects those answers, so the tools' retry,
ordering and resume paths run in tests.

The plan is set and read over HTTP by the test harness:

    POST /_faults/plan   {"seed": 1,
                          "throttle": 0.2,            # share of calls answered "Rate exceeded"
                          "server_error": 0.05,       # share answered 500
                          "dependency": {"DeleteSubnet": 2},  # first N attempts per resource refused
                          "not_found_after_create": true,     # first use of a new EC2 id answers NotFound
                          "hang_after_mutations": 12,         # after the 12th mutating call, hang every call
                          "answer": {"CreateLogGroup": {"status": 400, "code": "AccessDeniedException",
                                                        "message": "...", "times": 2, "match": "/ecs/",
                                                        "each": true},
                                     "DescribeAccountAttributes": {"status": 200, "body": "<xml .../>"}},
                                     # AWS's own answer to an action, on a path moto forgives: an error
                                     # (code, message) or a body, for the first `times` calls (every call
                                     # without it), only calls whose body holds `match` if given; with
                                     # `each`, `times` counts per request body (per resource)
                          "latency_ms": 50,                   # every call takes this long, like an AWS round trip
                          "max_in_flight": 16}                # more calls at once to one service: "Rate exceeded"
    GET  /_faults/state  {"calls": n, "mutations": n, "tripped": bool, "injected": {"throttle": n, ...},
                          "mutation_log": ["logs CreateLogGroup /fargate-pipes/locks/a/dev", ...],
                          "calls_by_service": {"ec2": n, ...}, "peak_in_flight": n,
                          "peak_in_flight_by_service": {"ec2": n, ...}, "sequential": n,
                          "calls_by_action": {"ec2:DescribeVpcs": n, ...}}

`sequential` counts the calls that started while no other call was in flight:
at a fixed latency, the part of a run's wall time that concurrency could not
hide. The benchmark (scripts/bench.sh) reads these counters.

`mutation_log` names every mutating call let through, with the first resource
name or id in its body, so tests can prove an attack changed nothing foreign.

Posting a plan resets the counters. Control calls are never faulted.

Lanes let tests fault in parallel on one emulator: `?lane=KEY` on either call
gives the calls signed with access key KEY a plan and counters of their own
(other keys use the plan posted without `lane`, empty unless set). A kill test
runs each kill point in its own lane, so one point's hang stops only its own
tools. `GET /_faults/state?lane=KEY&wait=SECONDS` answers as soon as the lane
trips, or after SECONDS: the harness waits for a trip without polling.
"""
import io
import json
import random
import re
import threading
import time
import urllib.parse

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search", "Lookup", "Check", "Validate",
                 # REST protocols (S3), which `identify` names by method and path.
                 "GET ", "HEAD ")

# EC2 id prefix -> the NotFound code AWS answers while a new id is not visible yet.
EC2_NOT_FOUND = {
    "vpc": "InvalidVpcID.NotFound",
    "subnet": "InvalidSubnetID.NotFound",
    "igw": "InvalidInternetGatewayID.NotFound",
    "rtb": "InvalidRouteTableID.NotFound",
    "sg": "InvalidGroup.NotFound",
    "nat": "NatGatewayNotFound",
    "eipalloc": "InvalidAllocationID.NotFound",
    "vpce": "InvalidVpcEndpointId.NotFound",
}
EC2_ID = re.compile(r"<(?:vpcId|subnetId|internetGatewayId|routeTableId|groupId|natGatewayId|allocationId|vpcEndpointId)>((?:vpc|subnet|igw|rtb|sg|nat|eipalloc|vpce)-[0-9a-f]+)<")

# The dependency error each service answers, by protocol family.
DEPENDENCY_CODE = {
    "ec2": ("DependencyViolation", "resource has a dependent object"),
    "elasticloadbalancing": ("ResourceInUse", "target group is currently in use by a listener or a rule"),
    "iam": ("DeleteConflict", "cannot delete entity, must detach all policies first"),
    "ecs": ("ResourceInUseException", "the resource is in use"),
    "servicediscovery": ("ResourceInUse", "the namespace has services"),
    # Application Auto Scaling's "try again": another change to the same target is in flight.
    "application-autoscaling": ("ConcurrentUpdateException", "a concurrent update is in progress"),
}


class Lane:
    """One plan and its counters. Reset in place, so calls hanging on a
    tripped lane see the reset and are released."""

    def __init__(self):
        self.reset({})

    def reset(self, plan):
        self.plan = plan
        self.rng = random.Random(plan.get("seed", 1))
        self.mutations = 0
        self.calls = 0
        self.tripped = False
        self.attempts = {}
        self.fresh_ids = set()
        self.injected = {}
        self.mutation_log = []
        self.by_service = {}
        self.by_action = {}
        self.in_flight = {}
        self.peak = 0
        self.peak_by_service = {}
        self.sequential = 0
        self.timing = Timing(plan.get("timing"))

    def state(self):
        return {"calls": self.calls, "mutations": self.mutations, "tripped": self.tripped,
                "injected": dict(self.injected), "mutation_log": list(self.mutation_log),
                "calls_by_service": dict(self.by_service), "peak_in_flight": self.peak,
                "peak_in_flight_by_service": dict(self.peak_by_service), "sequential": self.sequential,
                "calls_by_action": dict(self.by_action)}

    def enter(self, service, action=None):
        """Counts a call in flight; the throttling answer when it is one too many."""
        key = f"{service}:{action}"
        self.by_action[key] = self.by_action.get(key, 0) + 1
        total = sum(self.in_flight.values())
        if total == 0:
            self.sequential += 1
        now = self.in_flight.get(service, 0) + 1
        self.in_flight[service] = now
        self.by_service[service] = self.by_service.get(service, 0) + 1
        self.peak = max(self.peak, total + 1)
        self.peak_by_service[service] = max(self.peak_by_service.get(service, 0), now)
        limit = self.plan.get("max_in_flight")
        if limit and now > limit:
            return self.count("over_limit", throttling(service))
        return None

    def leave(self, service):
        self.in_flight[service] -= 1

    def count(self, kind, fault):
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return fault


# How long AWS takes, in seconds, before a new resource is ready: what the timing
# model scales. NAT gateways are `pending`, load balancers `provisioning`, Cloud
# Map namespace operations `PENDING` until then.
AWS_SECONDS = {"nat": 90, "alb": 150, "namespace": 45}
NAT_ID = re.compile(rb"<natGatewayId>(nat-[0-9a-f]+)</natGatewayId>")
LB_ARN = re.compile(rb"<LoadBalancerArn>([^<]+)</LoadBalancerArn>")
OPERATION_ID = re.compile(rb'"OperationId"\s*:\s*"([^"]+)"')


class Timing:
    """The timing model: plan {"timing": {"scale": 1/30}} (or seconds per kind,
    {"nat": 3}) makes new resources answer as not ready yet for that long, so
    the tools' waits and their polling can be measured locally."""

    def __init__(self, plan):
        plan = plan or {}
        scale = plan.get("scale", 1.0)
        self.seconds = {k: plan.get(k, v * scale) for k, v in AWS_SECONDS.items()} if plan else {}
        self.ready_at = {}

    def born(self, action, payload):
        kind, pattern = {"CreateNatGateway": ("nat", NAT_ID), "CreateLoadBalancer": ("alb", LB_ARN),
                         "CreatePrivateDnsNamespace": ("namespace", OPERATION_ID),
                         "CreatePublicDnsNamespace": ("namespace", OPERATION_ID),
                         "CreateHttpNamespace": ("namespace", OPERATION_ID)}.get(action, (None, None))
        if kind and self.seconds:
            for found in pattern.findall(payload):
                self.ready_at[found] = time.monotonic() + self.seconds[kind]

    def young(self, ident):
        return time.monotonic() < self.ready_at.get(ident, 0)

    def answer(self, action, body):
        if not self.ready_at:
            return body
        # AWS answers a create with the new resource not ready yet, as later describes do.
        if action in ("CreateNatGateway", "DescribeNatGateways"):
            return self.hold(body, NAT_ID, b"<state>available</state>", b"<state>pending</state>")
        if action in ("CreateLoadBalancer", "DescribeLoadBalancers"):
            return self.hold(body, LB_ARN, b"<Code>active</Code>", b"<Code>provisioning</Code>")
        if action == "GetOperation":
            return self.hold(body, re.compile(rb'"Id"\s*:\s*"([^"]+)"'), b'"SUCCESS"', b'"PENDING"')
        return body

    def hold(self, body, ident, ready, waiting):
        """Each resource's `ready` marker after its id, while the resource is young."""
        out, last = [], 0
        matches = list(ident.finditer(body))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
            part = body[m.start():end]
            if self.young(m.group(1)):
                part = part.replace(ready, waiting, 1)
            out += [body[last:m.start()], part]
            last = end
        out.append(body[last:])
        return b"".join(out)


def canonical(body):
    """A request body with a JSON one's keys sorted (the SDK writes maps such as
    tags in any order, so a retry's body differs byte for byte); others as they are."""
    try:
        return json.dumps(json.loads(body), sort_keys=True)
    except ValueError:
        return body


class FaultInjector:
    def __init__(self, app, _unused=None):
        self.app = app
        self.lock = threading.Lock()
        # Notified when a lane trips or gets a new plan.
        self.changed = threading.Condition(self.lock)
        self.lanes = {"": Lane()}

    def lane(self, key):
        """The lane of an access key: its own if it has one, else the default."""
        return self.lanes.get(key) or self.lanes[""]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_faults/"):
            return self.control(environ, start_response, path)
        body = read_body(environ)
        key, service, action = identify(environ, body)
        with self.lock:
            lane = self.lane(key)
        fault = self.decide(lane, service, action, body)
        if fault == "hang":
            # The harness kills the client meanwhile; a new plan releases the thread.
            with self.changed:
                while lane.tripped:
                    self.changed.wait()
            return respond_error(start_response, service, 500, "InternalError", "released after a simulated crash",
                                 cbor=is_cbor(environ))
        with self.lock:
            fault = lane.enter(service, action) or fault
        try:
            latency = lane.plan.get("latency_ms")
            if latency:
                time.sleep(latency / 1000)
            if fault is not None and fault[0] == "body":
                return respond_body(start_response, service, fault[1], fault[2])
            if fault is not None:
                return respond_error(start_response, service, *fault, cbor=is_cbor(environ))
            return self.forward(lane, environ, start_response, action)
        finally:
            with self.lock:
                lane.leave(service)

    def forward(self, lane, environ, start_response, action):
        """The emulator's answer, seen through the timing model."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda _data: None

        body = b"".join(self.app(environ, capture))
        status = captured.get("status", "")
        self.after(lane, action, status, body)
        body = lane.timing.answer(action, body)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured.get("headers", [])]
        start_response(status, headers, captured.get("exc_info"))
        return [body]

    def decide(self, lane, service, action, body):
        plan = lane.plan
        with self.lock:
            if lane.tripped:
                return "hang"
            lane.calls += 1
            mutating = bool(action) and not action.startswith(READ_PREFIXES)
            if plan.get("throttle") and lane.rng.random() < plan["throttle"]:
                return lane.count("throttle", throttling(service))
            if plan.get("server_error") and lane.rng.random() < plan["server_error"]:
                return lane.count("server_error", (500, "InternalError", "We encountered an internal error. Please try again."))
            answer = self.answer(lane, action, body)
            if answer is not None:
                return answer
            limit = plan.get("dependency", {}).get(action, 0)
            if limit:
                key = (action, body)
                seen = lane.attempts.get(key, 0)
                lane.attempts[key] = seen + 1
                if seen < limit:
                    code, message = DEPENDENCY_CODE.get(service, DEPENDENCY_CODE["ec2"])
                    return lane.count("dependency", (400, code, message))
            # Only calls that act on the new id: a Describe filtered by an id that is
            # not visible yet answers an empty list on AWS, not an error.
            if plan.get("not_found_after_create") and service == "ec2" and mutating and not action.startswith("Create"):
                text = body.decode("utf-8", "replace")
                for new_id in list(lane.fresh_ids):
                    if new_id in text:
                        lane.fresh_ids.discard(new_id)
                        prefix = new_id.rsplit("-", 1)[0]
                        return lane.count("not_found", (400, EC2_NOT_FOUND[prefix], f"The ID '{new_id}' does not exist"))
            if mutating:
                lane.mutations += 1
                limit = plan.get("hang_after_mutations")
                if limit is not None and lane.mutations > limit:
                    lane.mutations -= 1
                    lane.tripped = True
                    self.changed.notify_all()
                    return "hang"
                lane.mutation_log.append(f"{service} {action} {resource_hint(body)}".strip())
            return None

    def answer(self, lane, action, body):
        """The plan's canned answer to this call, while its `times` last (called
        with the lock held)."""
        spec = lane.plan.get("answer", {}).get(action)
        if spec is None or spec.get("match", "") not in body.decode("utf-8", "replace"):
            return None
        key = ("answer", action, canonical(body) if spec.get("each") else b"")
        seen = lane.attempts.get(key, 0)
        if "times" in spec and seen >= spec["times"]:
            return None
        lane.attempts[key] = seen + 1
        if "body" in spec:
            return lane.count("answer", ("body", spec.get("status", 200), spec["body"]))
        return lane.count("answer", (spec.get("status", 400), spec["code"], spec.get("message", spec["code"])))

    def after(self, lane, action, status, payload):
        if status.startswith("2"):
            with self.lock:
                lane.timing.born(action, payload)
        if lane.plan.get("not_found_after_create") and action.startswith(("Create", "Allocate")) and status.startswith("2"):
            with self.lock:
                for new_id in EC2_ID.findall(payload.decode("utf-8", "replace")):
                    lane.fresh_ids.add(new_id)

    def control(self, environ, start_response, path):
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        key = query.get("lane", [""])[0]
        if path == "/_faults/plan" and environ.get("REQUEST_METHOD") == "POST":
            plan = json.loads(read_body(environ) or b"{}")
            with self.changed:
                self.lanes.setdefault(key, Lane()).reset(plan)
                self.changed.notify_all()
        wait = float(query.get("wait", ["0"])[0])
        with self.changed:
            lane = self.lanes.get(key) or self.lanes[""]
            self.changed.wait_for(lambda: lane.tripped, timeout=wait)
            body = json.dumps(lane.state()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


# The first name, id or ARN a request body names: enough to tell our own lock
# from another stack's resource in the mutation log.
RESOURCE_HINT = re.compile(
    r'(?:"(?:logGroupName|name|Name|resourceArn|ResourceARN|ResourceId|SecretId|repositoryName|cluster|service|'
    r'roleName|RoleName|ResourceId|AlarmNames|alarmName|PolicyName|family|taskDefinition|Id|arn)"\s*:\s*"([^"]+)")'
    r'|(?:(?:LoadBalancerArn|TargetGroupArn|ListenerArn|RuleArn|RoleName|GroupId|VpcId|SubnetId|'
    r'InternetGatewayId|RouteTableId|NatGatewayId|AllocationId|ResourceId|AlarmNames\.member\.1|'
    r'VpcEndpointId\.1|ResourceArns\.member\.1)=([^&]+))')


def resource_hint(body):
    text = body[:4000].decode("utf-8", "replace")
    match = RESOURCE_HINT.search(text)
    if not match:
        return ""
    return urllib.parse.unquote_plus(match.group(1) or match.group(2))


def read_body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def identify(environ, body):
    """(access key, service family, action) from a SigV4 request: JSON protocols
    name the action in X-Amz-Target, query protocols in the Action form field."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/", auth)
    key, service = match.groups() if match else ("", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return key, service, target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:  # Smithy RPC v2 (CloudWatch): /service/<Service>/operation/<Op>
        return key, service, path.rsplit("/", 1)[-1]
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    action = form.get("Action", [""])[0]
    if not action:
        action = environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")
    return key, service, action


def throttling(service):
    if service == "ec2":
        return (503, "RequestLimitExceeded", "Request limit exceeded.")
    return (400, "ThrottlingException" if service not in ("elasticloadbalancing", "iam", "sts") else "Throttling", "Rate exceeded")


def is_cbor(environ):
    return environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"


def respond_body(start_response, service, status, body):
    """A canned successful answer, in the protocol's content type."""
    xml = service in ("ec2", "elasticloadbalancing", "iam", "sts", "autoscaling", "monitoring")
    data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    start_response(f"{status} OK", [("Content-Type", "text/xml" if xml else "application/x-amz-json-1.1"),
                                    ("Content-Length", str(len(data))), ("x-amzn-RequestId", "fault-injected")])
    return [data]


def respond_error(start_response, service, status, code, message, cbor=False):
    extra = []
    if cbor:
        import cbor2  # installed with the emulator (scripts/emulator-requirements.txt)
        body = cbor2.dumps({"__type": code, "message": message})
        ctype = "application/cbor"
        extra = [("smithy-protocol", "rpc-v2-cbor")]
    elif service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>fault-injected</RequestID></Response>")
        ctype = "text/xml"
    elif service in ("elasticloadbalancing", "iam", "sts", "autoscaling", "monitoring"):
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>fault-injected</RequestId></ErrorResponse>")
        ctype = "text/xml"
    else:
        body = json.dumps({"__type": code, "message": message})
        ctype = "application/x-amz-json-1.1"
    data = body if isinstance(body, bytes) else body.encode()
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                          ("x-amzn-RequestId", "fault-injected")] + extra)
    return [data]
