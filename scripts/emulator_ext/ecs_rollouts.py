"""ECS rolling deployments that move, and tasks that stop, for `svc-up --wait`.

moto 5.2.5 makes one PRIMARY deployment when a service is created and never
moves it: runningCount stays at MOTO_ECS_SERVICE_RUNNING (0), rolloutState at
IN_PROGRESS, a new task definition or forceNewDeployment makes no new
deployment, and no task ever stops. This extension gives each rolling (ECS
controller) service a deployment per CreateService, per UpdateService that
changes the task definition, and per forceNewDeployment, and plays it out on
the wall clock the way ECS does:

* a healthy deployment: after STEP seconds its tasks run (runningCount =
  desiredCount), rolloutState COMPLETED, the previous deployment is gone and
  the service logs "has reached a steady state.";
* a deployment whose image tag starts with `fp-fail-` (the tests' way to make
  tasks stop, keyed by the image): one task starts and stops every STEP
  seconds with the reason FAILURES names (`fp-fail-pull`, `fp-fail-secret`,
  `fp-fail-exit`); ListTasks(desiredStatus=STOPPED) and DescribeTasks return
  those tasks, with their container's reason and exit code. With the circuit
  breaker on, after max(3, desiredCount / 2) failures (ECS's threshold, capped
  at 200) the deployment is FAILED and, with rollback, a new PRIMARY deployment
  of the previous task definition completes and the service runs it again.

CODE_DEPLOY services are left as moto has them (no ECS deployments).
"""
import time
import uuid

from moto.ecs import responses

STEP = 1.0

FAILURES = {
    "fp-fail-pull": (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "failed to resolve ref {image}: not found",
        None, "CannotPullContainerError: failed to resolve ref {image}: not found"),
    "fp-fail-secret": (
        "ResourceInitializationError: unable to pull secrets or registry auth: "
        "retrieve secret from asm: service call has been retried 1 time(s): secret has no value",
        None, None),
    "fp-fail-exit": (
        "Essential container in task exited", 1, "exit status 1 (the application failed to start)"),
}

# service ARN -> the current rollout
ROLLOUTS = {}
# task ARN -> the stopped task it stands for
STOPPED = {}


def _image(backend, task_definition):
    try:
        td = backend.describe_task_definition(task_definition)
    except Exception:  # a task definition deregistered since
        return ""
    containers = td.container_definitions or []
    return containers[0].get("image", "") if containers else ""


def _failure(image):
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    for key, failure in FAILURES.items():
        if tag.startswith(key):
            return failure
    return None


def _start(service, previous_td):
    ROLLOUTS[service.arn] = {
        "id": f"ecs-svc/{uuid.uuid4().int % 10**19}",
        "task_definition": service.task_definition,
        "previous": previous_td,
        "started": time.time(),
        "settled": False,
        "stopped": [],
    }


def _breaker(service):
    config = getattr(service, "deployment_configuration", None) or {}
    cb = config.get("deploymentCircuitBreaker") or {}
    return bool(cb.get("enable")), bool(cb.get("rollback"))


def _deployment(rollout, service, state, running, failed, td=None, status="PRIMARY", reason=""):
    now = time.time()
    return {
        "id": rollout["id"] if td is None else rollout["id"] + "-rollback",
        "status": status,
        "taskDefinition": td or rollout["task_definition"],
        "desiredCount": service.desired_count,
        "runningCount": running,
        "pendingCount": max(service.desired_count - running, 0),
        "failedTasks": failed,
        "rolloutState": state,
        "rolloutStateReason": reason,
        "createdAt": rollout["started"],
        "updatedAt": now,
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
    }


def _event(service, message):
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": time.time(), "message": message})


def _play(backend, service):
    """Brings a service's deployments and counts to where ECS would have them now."""
    rollout = ROLLOUTS.get(service.arn)
    if rollout is None or service.deployment_controller.get("type") == "CODE_DEPLOY":
        return
    elapsed = time.time() - rollout["started"]
    image = _image(backend, rollout["task_definition"])
    failure = _failure(image)
    name = service.name
    if failure is None:
        done = elapsed >= STEP
        running = service.desired_count if done else 0
        state = "COMPLETED" if done else "IN_PROGRESS"
        service.deployments = [_deployment(rollout, service, state, running, 0)]
        if done and not rollout["settled"]:
            rollout["settled"] = True
            _event(service, f"(service {name}) has reached a steady state.")
        service.running_count, service.pending_count = running, service.desired_count - running
        return
    _fail(backend, service, rollout, failure, image, elapsed)


def _fail(backend, service, rollout, failure, image, elapsed):
    enabled, rollback = _breaker(service)
    threshold = min(max(3, (service.desired_count + 1) // 2), 200)
    failed = min(int(elapsed / STEP), threshold if enabled else 10**6)
    while len(rollout["stopped"]) < failed:
        _stop_one(service, rollout, failure, image)
    if not (enabled and failed >= threshold):
        service.deployments = [_deployment(rollout, service, "IN_PROGRESS", 0, failed)]
        service.running_count, service.pending_count = 0, service.desired_count
        return
    reason = "ECS deployment circuit breaker: tasks failed to start."
    failed_deployment = _deployment(rollout, service, "FAILED", 0, failed, status="ACTIVE", reason=reason)
    if rollback and rollout["previous"]:
        if not rollout["settled"]:
            rollout["settled"] = True
            _event(service, f"(service {service.name}) deployment {rollout['id']} deployment failed: "
                            "tasks failed to start. Rolling back to the previous deployment.")
            service.task_definition = rollout["previous"]
        back = _deployment(rollout, service, "COMPLETED", service.desired_count, 0,
                           td=rollout["previous"])
        service.deployments = [back]
        service.running_count, service.pending_count = service.desired_count, 0
    else:
        failed_deployment["status"] = "PRIMARY"
        service.deployments = [failed_deployment]
        service.running_count, service.pending_count = 0, service.desired_count


def _stop_one(service, rollout, failure, image):
    reason, exit_code, container_reason = failure
    arn = service.arn.replace(":service/", ":task/").rsplit("/", 1)[0] + "/" + uuid.uuid4().hex
    at = rollout["started"] + STEP * (len(rollout["stopped"]) + 1)
    container = {"name": service.name, "image": image, "lastStatus": "STOPPED"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if container_reason:
        container["reason"] = container_reason.format(image=image)
    STOPPED[arn] = {
        "taskArn": arn,
        "clusterArn": service.cluster_arn,
        "taskDefinitionArn": rollout["task_definition"],
        "group": f"service:{service.name}",
        "startedBy": rollout["id"],
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "TaskFailedToStart" if exit_code is None else "EssentialContainerExited",
        "stoppedReason": reason.format(image=image),
        "stoppedAt": at,
        "createdAt": at - STEP / 2,
        "launchType": "FARGATE",
        "containers": [container],
        "_service": service.name,
    }
    rollout["stopped"].append(arn)
    _event(service, f"(service {service.name}) has started 1 tasks: (task {arn.rsplit('/', 1)[-1]}).")


def install():
    create = responses.EC2ContainerServiceResponse.create_service
    update = responses.EC2ContainerServiceResponse.update_service
    describe = responses.EC2ContainerServiceResponse.describe_services
    list_tasks = responses.EC2ContainerServiceResponse.list_tasks
    describe_tasks = responses.EC2ContainerServiceResponse.describe_tasks

    def _service(self, key):
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        name = (self._get_param(key) or "").split("/")[-1]
        return backend.services.get(f"{cluster.name}:{name}")

    def create_service(self):
        result = create(self)
        service = _service(self, "serviceName")
        if service is not None:
            _start(service, None)
        return result

    def update_service(self):
        service = _service(self, "service")
        before = service.task_definition if service is not None else None
        result = update(self)
        service = _service(self, "service")
        if service is not None and (
            service.task_definition != before or self._get_param("forceNewDeployment")
        ):
            _start(service, before)
        return result

    def describe_services(self):
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        for name in self._get_param("services", []):
            service = backend.services.get(f"{cluster.name}:{name.split('/')[-1]}")
            if service is not None:
                _play(backend, service)
        return describe(self)

    def list_stopped(self):
        result = list_tasks(self)
        if self._get_param("desiredStatus") != "STOPPED":
            return result
        name = (self._get_param("serviceName") or "").split("/")[-1]
        extra = [arn for arn, t in STOPPED.items() if not name or t["_service"] == name]
        arns = list(result.result.get("taskArns", [])) + extra
        return responses.ActionResult({"taskArns": arns})

    def describe_stopped(self):
        wanted = self._get_param("tasks", [])
        ours = [STOPPED[a] for a in wanted if a in STOPPED]
        if not ours:
            return describe_tasks(self)
        rest = [a for a in wanted if a not in STOPPED]
        tasks = []
        if rest:
            tasks = list(self.ecs_backend.describe_tasks(self._get_param("cluster", "default"), rest))
        public = [{k: v for k, v in t.items() if not k.startswith("_")} for t in ours]
        return responses.ActionResult({"tasks": tasks + public, "failures": []})

    responses.EC2ContainerServiceResponse.create_service = create_service
    responses.EC2ContainerServiceResponse.update_service = update_service
    responses.EC2ContainerServiceResponse.describe_services = describe_services
    responses.EC2ContainerServiceResponse.list_tasks = list_stopped
    responses.EC2ContainerServiceResponse.describe_tasks = describe_stopped
