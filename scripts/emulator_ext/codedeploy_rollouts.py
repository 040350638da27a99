"""CodeDeploy ECS deployments that finish, for `svc-up --wait` on blue/green services.

moto 5.2.5 leaves every deployment `Created` for ever. Here a deployment that
is still under way is played out on the wall clock when it is read
(GetDeployment, BatchGetDeployments, ListDeployments): InProgress after STEP
seconds, then Succeeded after twice that, the way CodeDeploy reports an ECS
blue/green deployment. One whose AppSpec names a task definition whose image
tag starts with `fp-fail-` (the same key as ecs_rollouts.py) is Failed instead,
with the ECS_UPDATE_ERROR CodeDeploy gives when the replacement tasks never
become healthy (moto's answers leave errorInformation empty: filled in here).
A stopped deployment stays stopped.
"""
import json

from moto.codedeploy import models, responses
from moto.core.utils import utcnow

STEP = 1.0
UNDER_WAY = {"Created", "Queued", "InProgress"}


def _image(deployment, account_id, region):
    from moto.ecs.models import ecs_backends

    try:
        content = deployment.revision["appSpecContent"]["content"]
        spec = json.loads(content) if isinstance(content, str) else content
        resource = spec["Resources"][0]
        task_definition = next(iter(resource.values()))["Properties"]["TaskDefinition"]
        td = ecs_backends[account_id][region].describe_task_definition(task_definition)
        return (td.container_definitions or [{}])[0].get("image", "")
    except Exception:  # an AppSpec we cannot read plays out as healthy
        return ""


def _play(backend, deployment):
    if deployment.status not in UNDER_WAY:
        return
    elapsed = (utcnow() - deployment.create_time).total_seconds()
    if elapsed < STEP:
        return
    if deployment.start_time is None:
        deployment.start_time = utcnow()
    deployment.status = "InProgress"
    if elapsed < 2 * STEP:
        return
    deployment.complete_time = utcnow()
    tag = _image(deployment, backend.account_id, backend.region_name).rsplit(":", 1)[-1]
    if tag.startswith("fp-fail-"):
        deployment.status = "Failed"
        deployment.error_information = {
            "code": "ECS_UPDATE_ERROR",
            "message": "The ECS service cannot reach a steady state: the replacement tasks "
                       "failed to start (CannotPullContainerError).",
        }
    else:
        deployment.status = "Succeeded"


def install():
    get = models.CodeDeployBackend.get_deployment
    batch = models.CodeDeployBackend.batch_get_deployments
    listing = models.CodeDeployBackend.list_deployments

    def get_deployment(self, deployment_id):
        deployment = get(self, deployment_id)
        _play(self, deployment)
        return deployment

    def batch_get_deployments(self, deployment_ids):
        deployments = batch(self, deployment_ids)
        for d in deployments:
            _play(self, d)
        return deployments

    def list_deployments(self, *args, **kwargs):
        for d in list(self.deployments.values()):
            _play(self, d)
        return listing(self, *args, **kwargs)

    info = responses._deployment_info

    def deployment_info(deployment):
        # moto answers errorInformation always empty.
        answer = info(deployment)
        answer["errorInformation"] = getattr(deployment, "error_information", {})
        return answer

    responses._deployment_info = deployment_info
    models.CodeDeployBackend.get_deployment = get_deployment
    models.CodeDeployBackend.batch_get_deployments = batch_get_deployments
    models.CodeDeployBackend.list_deployments = list_deployments
