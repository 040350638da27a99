"""S3 bucket policies whose statements have conditions, as AWS applies them to
the SDK's requests.

moto 5.2.5 applies a bucket policy's `Principal: *` statements to every request
and ignores their `Condition`. alb-up's access-log bucket denies plain-HTTP
requests (`aws:SecureTransport: false`, FSBP S3.5); AWS applies that only to
requests without TLS, which the SDK never sends, but moto denies every object
request with it, and the emulator is plain HTTP anyway. Conditional statements
are left out of moto's evaluation here: it cannot evaluate them as AWS does.
"""
import json

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import models


def _statements(policy):
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def install():
    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        policy["Statement"] = [s for s in _statements(policy) if "Condition" not in s]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    models.FakeBucket.get_permission = get_permission
