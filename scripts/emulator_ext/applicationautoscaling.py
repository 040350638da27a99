"""Application Auto Scaling as AWS answers it, where moto 5.2.5 differs.

scale-up relies on each of these, so the emulator must behave like AWS:

* Tags on scalable targets. RegisterScalableTarget takes `Tags` when it creates
  a target (they are ignored when it updates one), and ListTagsForResource,
  TagResource and UntagResource work on a target's ARN. moto keeps no tags and
  has none of the three operations; scale-up checks a target's tags before it
  changes or deletes it.
* DescribeScalingPolicies filters `ResourceId` exactly and takes `PolicyNames`.
  moto matches the resource id as a substring (`service/c/api` also finds
  `service/c/api-admin`'s policies) and ignores the names.
* A missing target or policy is `ObjectNotFoundException`, as AWS answers
  DeregisterScalableTarget, DeleteScalingPolicy and PutScalingPolicy (a policy
  needs a registered target); moto answers ValidationException or, for
  PutScalingPolicy, creates the policy anyway.
* Deregistering a target deletes its scaling policies (and their alarms), as
  AWS does; moto leaves them behind.
* DescribeScalableTargets pages on: moto's NextToken is the last index of the
  page (always "49"), so past two pages the same page comes back and targets
  after the hundredth are never listed; scale-up's sweep (pruning, teardown)
  reads every ECS target of the region.
"""
import json
import threading

from moto.applicationautoscaling import models, responses
from moto.core.exceptions import JsonRESTError


class ObjectNotFound(JsonRESTError):
    def __init__(self, message):
        super().__init__("ObjectNotFoundException", message)


class ResourceNotFound(JsonRESTError):
    def __init__(self, message):
        super().__init__("ResourceNotFoundException", message)


# The Tags of the RegisterScalableTarget request being served, per server
# thread: the backend is shared by every thread, and a tag list left on it was
# read by a concurrent registration (an untagged target, now and then).
_request = threading.local()

Backend = models.ApplicationAutoscalingBackend
Response = responses.ApplicationAutoScalingResponse


def _tags(backend):
    # ARN -> {key: value}, on the backend so each account and region has its own.
    if not hasattr(backend, "fp_tags"):
        backend.fp_tags = {}
    return backend.fp_tags


def _target_by_arn(backend, arn):
    for by_id in backend.targets.values():
        for target in by_id.values():
            if target.arn == arn:
                return target
    return None


def install():
    register = Backend.register_scalable_target
    deregister = Backend.deregister_scalable_target
    put_policy = Backend.put_scaling_policy
    delete_policy = Backend.delete_scaling_policy

    def register_scalable_target(self, namespace, r_id, dimension, *args, **kwargs):
        existed = self._scalable_target_exists(r_id, dimension)
        target = register(self, namespace, r_id, dimension, *args, **kwargs)
        if not existed:
            _tags(self)[target.arn] = dict(getattr(_request, "tags", None) or {})
        return target

    def deregister_scalable_target(self, namespace, r_id, dimension):
        if not self._scalable_target_exists(r_id, dimension):
            raise ObjectNotFound(
                f"No scalable target registered for service namespace: {namespace}, "
                f"resource ID: {r_id}, scalable dimension: {dimension}")
        target = self.targets[dimension][r_id]
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (namespace, r_id, dimension):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]
        _tags(self).pop(target.arn, None)
        return deregister(self, namespace, r_id, dimension)

    def put_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension, *args, **kwargs):
        if not self._scalable_target_exists(resource_id, scalable_dimension):
            raise ObjectNotFound(
                f"No scalable target registered for service namespace: {service_namespace}, "
                f"resource ID: {resource_id}, scalable dimension: {scalable_dimension}")
        return put_policy(self, policy_name, service_namespace, resource_id, scalable_dimension, *args, **kwargs)

    def delete_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension):
        key = models.FakeApplicationAutoscalingPolicy.formulate_key(
            service_namespace, resource_id, scalable_dimension, policy_name)
        if key not in self.policies:
            raise ObjectNotFound(
                f"No scaling policy found for service namespace: {service_namespace}, resource ID: {resource_id}, "
                f"scalable dimension: {scalable_dimension}, policy name: {policy_name}")
        return delete_policy(self, policy_name, service_namespace, resource_id, scalable_dimension)

    Backend.register_scalable_target = register_scalable_target
    Backend.deregister_scalable_target = deregister_scalable_target
    Backend.put_scaling_policy = put_scaling_policy
    Backend.delete_scaling_policy = delete_scaling_policy

    respond_register = Response.register_scalable_target

    def register_with_tags(self):
        _request.tags = self._get_param("Tags") or {}
        try:
            return respond_register(self)
        finally:
            _request.tags = None

    def describe_scaling_policies(self):
        backend = self.applicationautoscaling_backend
        namespace = self._get_param("ServiceNamespace")
        resource_id = self._get_param("ResourceId")
        dimension = self._get_param("ScalableDimension")
        names = self._get_param("PolicyNames") or []
        policies = [p for p in backend.policies.values() if p.service_namespace == namespace]
        if resource_id:
            policies = [p for p in policies if p.resource_id == resource_id]
        if dimension:
            policies = [p for p in policies if p.scalable_dimension == dimension]
        if names:
            policies = [p for p in policies if p.policy_name in names]
        start = int(self._get_param("NextToken") or 0)
        size = self._get_int_param("MaxResults") or 10
        page = policies[start:start + size]
        token = str(start + size) if start + size < len(policies) else None
        return json.dumps({"ScalingPolicies": [responses._build_policy(p) for p in page], "NextToken": token})

    def describe_scalable_targets(self):
        backend = self.applicationautoscaling_backend
        targets = backend.describe_scalable_targets(
            self._get_param("ServiceNamespace"), self._get_param("ResourceIds"),
            self._get_param("ScalableDimension"))
        start = int(self._get_param("NextToken") or 0)
        size = self._get_int_param("MaxResults") or 50
        page = targets[start:start + size]
        token = str(start + size) if start + size < len(targets) else None
        return json.dumps({"ScalableTargets": [responses._build_target(t) for t in page], "NextToken": token})

    def list_tags_for_resource(self):
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        if _target_by_arn(backend, arn) is None:
            raise ResourceNotFound(f"No scalable target found for ARN {arn}")
        return json.dumps({"Tags": _tags(backend).get(arn, {})})

    def tag_resource(self):
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        if _target_by_arn(backend, arn) is None:
            raise ResourceNotFound(f"No scalable target found for ARN {arn}")
        _tags(backend).setdefault(arn, {}).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self):
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        if _target_by_arn(backend, arn) is None:
            raise ResourceNotFound(f"No scalable target found for ARN {arn}")
        for key in self._get_param("TagKeys") or []:
            _tags(backend).get(arn, {}).pop(key, None)
        return json.dumps({})

    Response.register_scalable_target = register_with_tags
    Response.describe_scaling_policies = describe_scaling_policies
    Response.describe_scalable_targets = describe_scalable_targets
    Response.list_tags_for_resource = list_tags_for_resource
    Response.tag_resource = tag_resource
    Response.untag_resource = untag_resource
