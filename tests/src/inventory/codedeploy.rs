//! CodeDeploy in the emulator: this stack's applications (named
//! `{stack}-{service}-{env}`, as svc-up names them) and their deployment groups.
//! CodeDeploy lists names only and reads tags by ARN, which needs the account:
//! the name is what is matched here (stack names are unique per test); svc-up's
//! own tests check the tags.

use super::Inventory;

pub(super) async fn read(sdk: &aws_config::SdkConfig, inv: &mut Inventory, stack: &str, env: &str) {
    let cd = aws_sdk_codedeploy::Client::new(sdk);
    let (prefix, suffix) = (format!("{stack}--"), format!("--{env}"));
    let apps = cd
        .list_applications()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("ListApplications");
    for app in apps
        .iter()
        .filter(|a| a.starts_with(&prefix) && a.ends_with(&suffix))
    {
        inv.add("codedeploy_application", Some(app));
        let groups = cd
            .list_deployment_groups()
            .application_name(app)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("ListDeploymentGroups");
        for g in groups {
            inv.add("codedeploy_deployment_group", Some(&format!("{app}/{g}")));
        }
    }
}
