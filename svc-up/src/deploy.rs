//! The deploy flags. `--image SERVICE=IMAGE` writes the image into the
//! document's `spec.services.SERVICE` (so every later run from that document
//! keeps it) before the spec is checked, like any other spec value;
//! `--image SERVICE=:TAG` names a tag of the service's own ECR repository.
//! `--force-new-deployment SERVICE` restarts a service's tasks on the
//! revision it runs (a rotated secret, say).

use serde_json::Value;

use common::document::Document;
use common::{Error, Result};

use crate::spec::Planned;

/// `SERVICE=IMAGE`, as clap reads it.
pub fn parse_image(arg: &str) -> std::result::Result<(String, String), String> {
    match arg.split_once('=') {
        Some((service, image)) if !service.is_empty() && !image.is_empty() => {
            Ok((service.to_owned(), image.to_owned()))
        }
        _ => Err(format!(
            "'{arg}' is not SERVICE=IMAGE (api=registry/app:v2) or SERVICE=:TAG (api=:v2)"
        )),
    }
}

/// Writes each `--image` into the document's spec: `image`, or `image_tag`
/// for `:TAG`, dropping the other so the two never disagree.
pub fn record_images(doc: &mut Document, images: &[(String, String)]) -> Result<()> {
    if images.is_empty() {
        return Ok(());
    }
    let mut services = doc
        .get("spec")
        .and_then(|s| s.get("services"))
        .cloned()
        .unwrap_or(Value::Null);
    for (service, image) in images {
        let Some(spec) = services.get_mut(service).and_then(Value::as_object_mut) else {
            return Err(unknown(&services, service, "--image"));
        };
        let (set, drop) = match image.strip_prefix(':') {
            Some(tag) => (("image_tag", tag), "image"),
            None => (("image", image.as_str()), "image_tag"),
        };
        spec.remove(drop);
        spec.insert(set.0.to_owned(), Value::from(set.1));
    }
    doc.set_spec("services", &services);
    Ok(())
}

/// Marks the `--force-new-deployment` services. CodeDeploy services take no
/// forced deployment (UpdateService refuses it for their controller).
pub fn force(services: &mut [Planned], names: &[String]) -> Result<()> {
    for name in names {
        let Some(s) = services.iter_mut().find(|s| &s.name == name) else {
            let known: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
            return Err(usage(name, &known, "--force-new-deployment"));
        };
        if s.blue_green.is_some() {
            return Err(Error::Usage(format!(
                "--force-new-deployment {name}: a blue/green service restarts through a CodeDeploy \
                 deployment: deploy its image again (svc-up --image {name}=...)"
            )));
        }
        s.force_new_deployment = true;
    }
    Ok(())
}

fn unknown(services: &Value, name: &str, flag: &str) -> Error {
    let known: Vec<&str> = services
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    usage(name, &known, flag)
}

fn usage(name: &str, known: &[&str], flag: &str) -> Error {
    let near = common::spec::closest(name, known);
    let hint = match near {
        Some(n) => format!("did you mean '{n}'?"),
        None => format!("the services are: {}", known.join(", ")),
    };
    Error::Usage(format!(
        "{flag} {name}: no service '{name}' in spec.services; {hint}"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Document {
        Document::parse(
            &json!({"version": 1, "stack": "shop", "env": "dev",
                "spec": {"services": {"api": {"image_tag": "v1"}, "web": {"image": "nginx:1"}}}})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn an_image_replaces_the_tag_and_a_tag_the_image() {
        let mut d = doc();
        let images = [
            ("api".to_owned(), "nginx:2".to_owned()),
            ("web".to_owned(), ":v3".to_owned()),
        ];
        record_images(&mut d, &images).unwrap();
        let s = &d.get("spec").unwrap()["services"];
        assert_eq!(s["api"], json!({"image": "nginx:2"}));
        assert_eq!(s["web"], json!({"image_tag": "v3"}));
    }

    #[test]
    fn an_unknown_service_is_a_usage_error_with_a_suggestion() {
        let e = record_images(&mut doc(), &[("apu".into(), "x".into())]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("did you mean 'api'?"), "{e}");
        assert!(parse_image("api").is_err());
        assert!(parse_image("=x").is_err());
        assert_eq!(
            parse_image("api=:v2").unwrap(),
            ("api".into(), ":v2".into())
        );
    }
}
