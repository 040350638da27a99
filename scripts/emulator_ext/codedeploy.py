"""CodeDeploy operations moto 5.2.5 lacks, added to its backend and responses.

svc-up needs them for blue/green services: teardown stops a deployment still in
progress, then deletes the deployment group and the application; a drifted
deployment group is updated in place. moto answers all four with a 500 (not
implemented), and its GetDeploymentGroup leaves out the alarm configuration it
stored, so every run would see drift. The semantics follow the CodeDeploy API
reference:

* DeleteDeploymentGroup and DeleteApplication list no "does not exist" error:
  deleting a group or an application that is not there succeeds (the group's
  answer is an empty hooksNotCleanedUp). Deleting an application also removes
  its deployment groups, their deployments and the tags of both.
* UpdateDeploymentGroup changes only the fields it is given (and renames with
  newDeploymentGroupName); a missing application or group is an error.
* StopDeployment of a finished deployment is DeploymentAlreadyCompletedException;
  otherwise the deployment is Stopped (moto's deployments never start, so the
  stop is immediate) and the answer is Succeeded.
"""
from moto.codedeploy import models, responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.core.responses import ActionResult, EmptyResult

# A deployment in any of these is still running (or waiting) and can be stopped.
ACTIVE = {"Created", "Queued", "InProgress", "Baking", "Ready"}

# UpdateDeploymentGroup request fields -> DeploymentGroup attributes.
UPDATABLE = {
    "deploymentConfigName": "deployment_config_name",
    "ec2TagFilters": "ec2_tag_filters",
    "onPremisesInstanceTagFilters": "on_premises_instance_tag_filters",
    "autoScalingGroups": "auto_scaling_groups",
    "serviceRoleArn": "service_role_arn",
    "triggerConfigurations": "trigger_configurations",
    "alarmConfiguration": "alarm_configuration",
    "autoRollbackConfiguration": "auto_rollback_configuration",
    "outdatedInstancesStrategy": "outdated_instances_strategy",
    "deploymentStyle": "deployment_style",
    "blueGreenDeploymentConfiguration": "blue_green_deployment_configuration",
    "loadBalancerInfo": "load_balancer_info",
    "ec2TagSet": "ec2_tag_set",
    "ecsServices": "ecs_services",
    "onPremisesTagSet": "on_premises_tag_set",
    "terminationHookEnabled": "termination_hook_enabled",
}


class DeploymentAlreadyCompletedException(CodeDeployException):
    code = 400

    def __init__(self, message: str):
        super().__init__("DeploymentAlreadyCompletedException", message)


def delete_deployment_group(self, application_name, deployment_group_name):
    group = self.deployment_groups.get(application_name, {}).pop(deployment_group_name, None)
    if group is not None:
        arn = self._deployment_group_arn(application_name, deployment_group_name)
        self.tagger.delete_all_tags_for_resource(arn)


def delete_application(self, application_name):
    for group in list(self.deployment_groups.get(application_name, {})):
        self.delete_deployment_group(application_name, group)
    self.deployment_groups.pop(application_name, None)
    for deployment_id, d in list(self.deployments.items()):
        if d.application_name == application_name:
            del self.deployments[deployment_id]
            self.tagger.delete_all_tags_for_resource(self._arn(f"deployment:{deployment_id}"))
    if self.applications.pop(application_name, None) is not None:
        self.tagger.delete_all_tags_for_resource(self._application_arn(application_name))


def update_deployment_group(self, application_name, current_name, new_name, fields):
    group = self.get_deployment_group(application_name, current_name)
    for field, attribute in UPDATABLE.items():
        if fields.get(field) is not None:
            setattr(group, attribute, fields[field])
    if new_name and new_name != current_name:
        groups = self.deployment_groups[application_name]
        groups[new_name] = groups.pop(current_name)
        group.deployment_group_name = new_name
        old_arn = self._deployment_group_arn(application_name, current_name)
        tags = self.tagger.list_tags_for_resource(old_arn)["Tags"]
        self.tagger.delete_all_tags_for_resource(old_arn)
        if tags:
            self.tagger.tag_resource(self._deployment_group_arn(application_name, new_name), tags)


def stop_deployment(self, deployment_id):
    deployment = self.get_deployment(deployment_id)
    if deployment.status not in ACTIVE:
        raise DeploymentAlreadyCompletedException(
            f"The deployment {deployment_id} has already completed."
        )
    deployment.status = "Stopped"


def _delete_deployment_group(self):
    self.codedeploy_backend.delete_deployment_group(
        self._get_param("applicationName"), self._get_param("deploymentGroupName")
    )
    return ActionResult({"hooksNotCleanedUp": []})


def _delete_application(self):
    self.codedeploy_backend.delete_application(self._get_param("applicationName"))
    return EmptyResult()


def _update_deployment_group(self):
    fields = {field: self._get_param(field) for field in UPDATABLE}
    self.codedeploy_backend.update_deployment_group(
        self._get_param("applicationName"),
        self._get_param("currentDeploymentGroupName"),
        self._get_param("newDeploymentGroupName"),
        fields,
    )
    return ActionResult({"hooksNotCleanedUp": []})


def _stop_deployment(self):
    self.codedeploy_backend.stop_deployment(self._get_param("deploymentId"))
    return ActionResult({"status": "Succeeded", "statusMessage": "stopped"})


def install() -> None:
    backend = models.CodeDeployBackend
    backend.delete_deployment_group = delete_deployment_group
    backend.delete_application = delete_application
    backend.update_deployment_group = update_deployment_group
    backend.stop_deployment = stop_deployment
    response = responses.CodeDeployResponse
    response.delete_deployment_group = _delete_deployment_group
    response.delete_application = _delete_application
    response.update_deployment_group = _update_deployment_group
    response.stop_deployment = _stop_deployment

    group_info = responses._deployment_group_info

    def with_alarms(group):
        info = group_info(group)
        info["alarmConfiguration"] = group.alarm_configuration or {}
        return info

    responses._deployment_group_info = with_alarms
