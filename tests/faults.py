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
                          "error": {"CreateLoadBalancer": {"times": 2, "code": "InvalidSecurityGroup",
                                    "message": "...", "status": 400}}}  # first N calls of an action answer AWS's error
    GET  /_faults/state  {"calls": n, "mutations": n, "tripped": bool, "injected": {"throttle": n, ...},
                          "mutation_log": ["logs CreateLogGroup /fargate-pipes/locks/a/dev", ...]}

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
import urllib.parse

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search", "Lookup", "Check", "Validate")

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

    def state(self):
        return {"calls": self.calls, "mutations": self.mutations, "tripped": self.tripped,
                "injected": dict(self.injected), "mutation_log": list(self.mutation_log)}

    def count(self, kind, fault):
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return fault


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
        if fault is not None:
            return respond_error(start_response, service, *fault, cbor=is_cbor(environ))
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            return start_response(status, headers, exc_info)

        chunks = list(self.app(environ, capture))
        self.after(lane, action, captured.get("status", ""), b"".join(chunks))
        return chunks

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
            limit = plan.get("dependency", {}).get(action, 0)
            if limit:
                key = (action, body)
                seen = lane.attempts.get(key, 0)
                lane.attempts[key] = seen + 1
                if seen < limit:
                    code, message = DEPENDENCY_CODE.get(service, DEPENDENCY_CODE["ec2"])
                    return lane.count("dependency", (400, code, message))
            error = plan.get("error", {}).get(action)
            if error:
                seen = lane.attempts.get(("error", action), 0)
                lane.attempts[("error", action)] = seen + 1
                if seen < error.get("times", 1):
                    return lane.count("error", (error.get("status", 400), error["code"], error.get("message", error["code"])))
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

    def after(self, lane, action, status, payload):
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
