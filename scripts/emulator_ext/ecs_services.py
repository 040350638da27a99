"""ECS CreateService and UpdateService as AWS answers them, where moto 5.2.5 differs.

svc-up converges every field of an ECS service and reads it back with
DescribeServices; these are the gaps that would make it see drift forever or
pass where AWS refuses:

* CreateService drops deploymentConfiguration, enableExecuteCommand,
  capacityProviderStrategy and healthCheckGracePeriodSeconds (UpdateService
  keeps them). They are stored as given, so DescribeServices returns them.
* CreateService of a name that is ACTIVE in the cluster overwrites it in moto.
  AWS answers the same request again (same clientToken) with the existing
  service, and refuses any other with InvalidParameterException "Creation of
  service was not idempotent."; a DRAINING one is "Unable to Start a service
  that is still Draining.".
* UpdateService of a service with the CODE_DEPLOY controller takes, on AWS,
  only desiredCount, deploymentConfiguration, healthCheckGracePeriodSeconds,
  placement, enableECSManagedTags and propagateTags; anything else is an
  InvalidParameterException (the task definition, network, load balancers,
  platform go through a CodeDeploy deployment). moto takes everything.
"""
from moto.ecs import responses
from moto.ecs.exceptions import InvalidParameterException

# CreateService members moto drops -> the Service attribute DescribeServices reads.
KEPT_AT_CREATE = {
    "deploymentConfiguration": "deployment_configuration",
    "enableExecuteCommand": "enable_execute_command",
    "capacityProviderStrategy": "capacity_provider_strategy",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
}

# What UpdateService takes for a CODE_DEPLOY service (besides cluster and service).
CODE_DEPLOY_UPDATABLE = {
    "cluster",
    "service",
    "desiredCount",
    "deploymentConfiguration",
    "healthCheckGracePeriodSeconds",
    "placementConstraints",
    "placementStrategy",
    "enableECSManagedTags",
    "propagateTags",
}


def _existing(backend, cluster_str, name):
    cluster = backend._get_cluster(cluster_str)
    return backend.services.get(f"{cluster.name}:{name}")


def install():
    create = responses.EC2ContainerServiceResponse.create_service
    update = responses.EC2ContainerServiceResponse.update_service

    def create_service(self):
        backend = self.ecs_backend
        name = self._get_param("serviceName")
        token = self._get_param("clientToken") or ""
        existing = _existing(backend, self._get_param("cluster", "default"), name)
        if existing is not None and existing.status == "ACTIVE":
            if token and getattr(existing, "client_token", None) == token:
                return responses.ActionResult({"service": existing})
            raise InvalidParameterException("Creation of service was not idempotent.")
        if existing is not None and existing.status == "DRAINING":
            raise InvalidParameterException("Unable to Start a service that is still Draining.")
        result = create(self)
        service = _existing(backend, self._get_param("cluster", "default"), name)
        for member, attribute in KEPT_AT_CREATE.items():
            value = self._get_param(member)
            if value is not None:
                setattr(service, attribute, value)
        service.client_token = token
        return result

    def update_service(self):
        backend = self.ecs_backend
        service_name = (self._get_param("service") or "").split("/")[-1]
        service = _existing(backend, self._get_param("cluster", "default"), service_name)
        if service is not None and service.deployment_controller.get("type") == "CODE_DEPLOY":
            refused = sorted(k for k, v in self._get_params().items()
                             if v is not None and k not in CODE_DEPLOY_UPDATABLE)
            if "taskDefinition" in refused:
                raise InvalidParameterException(
                    "Unable to update task definition on services with a CODE_DEPLOY deployment "
                    "controller. Use AWS CodeDeploy to trigger a new deployment.")
            if refused:
                raise InvalidParameterException(
                    f"Unable to update {', '.join(refused)} on services with a CODE_DEPLOY "
                    "deployment controller.")
        return update(self)

    responses.EC2ContainerServiceResponse.create_service = create_service
    responses.EC2ContainerServiceResponse.update_service = update_service
